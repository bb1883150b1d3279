import {
  ApiError,
  checkAddress,
  TEAM_ROLES,
  type TeamDetailView,
  type TeamMemberView,
  type TeamMembershipView,
  type TeamRole,
  type TeamView,
} from '../../../packages/web/src/index.js';
import type { Ctx } from '../context.js';
import { h, replace } from '../dom.js';
import { announce, badge, busy, errorBox, field, fmtInt, fmtTime, formDialog, section, shortAddress, table } from '../ui.js';
import { auditPanel } from './audit.js';

const enc = encodeURIComponent;
const sameAddress = (a: string, b: string): boolean => a.toLowerCase() === b.toLowerCase();

/** The team's audit actions (the filter of the Team tab's activity). */
const TEAM_ACTIONS = [
  'team.create',
  'team.invite',
  'team.join',
  'team.decline',
  'team.role',
  'team.remove',
  'team.leave',
  'team.credits',
  'key.create',
  'key.update',
  'key.rotate',
  'key.delete',
  'domain.create',
  'domain.delete',
  'domain.token_rotate',
];

/**
 * What a role may do, as the console shows it (API.md "Teams"). The service decides: these only
 * hide controls a role cannot use, and whatever it refuses anyway is shown in words.
 */
export const teamRights = {
  createKeys: (role: TeamRole): boolean => role !== 'viewer',
  /**
   * Edit, rotate, disable, delete a team key: owners and admins any, members the keys they created
   * (`createdBy` null: unknown to this page, so the control stays and the service decides).
   */
  changeKey: (role: TeamRole, me: string, createdBy: string | null | undefined): boolean =>
    role === 'owner' || role === 'admin' || (role === 'member' && (createdBy == null || sameAddress(createdBy, me))),
  manageDomains: (role: TeamRole): boolean => role === 'owner' || role === 'admin',
  manageMembers: (role: TeamRole): boolean => role === 'owner' || role === 'admin',
  readAudit: (role: TeamRole): boolean => role === 'owner' || role === 'admin',
  /** The roles this role may give: owners any, admins any but owner. */
  assignable: (role: TeamRole): TeamRole[] =>
    role === 'owner' ? [...TEAM_ROLES] : role === 'admin' ? TEAM_ROLES.filter((r) => r !== 'owner') : [],
  /** Owners change anyone (themselves included); admins anyone but owners. */
  changeMember: (role: TeamRole, target: TeamMemberView): boolean => role === 'owner' || (role === 'admin' && target.role !== 'owner'),
};

/** Plain words for the team refusals (403 forbidden, 409 last_owner, 404); null keeps the API's message. */
export function teamErrorText(team: TeamView | null, err: unknown): string | null {
  if (!(err instanceof ApiError) || !team) return null;
  if (err.code === 'last_owner') {
    return `“${team.name}” must keep at least one owner: make another member an owner first, then leave or change this role. (${err.message})`;
  }
  if (err.status === 403) return `Your role in “${team.name}” (${team.role}) does not allow this. (${err.message})`;
  if (err.status === 404)
    return `Not found in “${team.name}”: it was removed, or you are no longer a member of this team. (${err.message})`;
  return null;
}

/** The Team tab: the chosen team, its members (invite, change roles, remove), leaving, and its audit log. */
export function teamPanel(ctx: Ctx, team: TeamView): HTMLElement {
  const me = ctx.account().address;
  const role = team.role;
  const explain = (err: unknown): string | null => teamErrorText(team, err);
  const errors = errorBox(explain);
  const inviteErrors = errorBox(explain);
  const summary = h('div', { class: 'stats' }, h('p', null, 'Loading the team…'));
  const members = h('div', { 'aria-live': 'polite' });
  let detail: TeamDetailView | null = null;

  async function load(): Promise<void> {
    detail = await ctx.api.get<TeamDetailView>(`/v1/teams/${enc(team.id)}`);
    const d = detail;
    const stat = (label: string, value: string, id: string, sub?: string): HTMLElement =>
      h(
        'div',
        { class: 'stat' },
        h('span', { class: 'label' }, label),
        h('span', { class: 'value', 'data-testid': id }, value),
        sub ? h('span', { class: 'sub' }, sub) : null,
      );
    const active = d.members.filter((m) => m.status === 'active').length;
    replace(
      summary,
      stat('Your role', d.role, 'team-role'),
      stat('Members', fmtInt(active), 'team-members', `${fmtInt(d.members.length - active)} invited`),
      stat(
        'Balance',
        d.credits === null ? 'not metered' : fmtInt(d.credits),
        'team-credits',
        d.credits === null ? 'Until an admin grants credits.' : 'Credits the team’s keys spend.',
      ),
      stat('Created', new Date(d.created_at).toLocaleDateString(), 'team-created'),
    );
    replace(
      members,
      table<TeamMemberView>(
        `Members of ${d.name}`,
        [
          {
            label: 'Address',
            cell: (m) => h('span', null, h('code', { class: 'wrap' }, m.address), sameAddress(m.address, me) ? badge('you') : null),
          },
          { label: 'Role', cell: (m) => badge(m.role, m.role === 'owner' ? 'admin' : '') },
          { label: 'Status', cell: (m) => badge(m.status, m.status === 'active' ? 'ok' : '') },
          { label: 'Invited by', cell: (m) => (m.invited_by ? h('code', { title: m.invited_by }, shortAddress(m.invited_by)) : '—') },
          { label: 'Joined', cell: (m) => fmtTime(m.joined_at, m.status === 'invited' ? 'not yet' : '—') },
          { label: 'Actions', cell: memberActions },
        ],
        d.members,
        (m) => ({ 'data-member': m.address.toLowerCase(), 'data-role': m.role, 'data-status': m.status }),
      ),
    );
  }

  function memberActions(m: TeamMemberView): HTMLElement | string {
    const self = sameAddress(m.address, me);
    const parts: HTMLElement[] = [];
    if (teamRights.changeMember(role, m)) {
      const roles = teamRights.assignable(role);
      const select = h(
        'select',
        { 'aria-label': `Role of ${m.address}`, 'data-role-select': m.address.toLowerCase() },
        ...roles.map((r) => h('option', { value: r, selected: r === m.role }, r)),
      );
      const save = h(
        'button',
        { type: 'button', 'data-action': 'change-role', 'aria-label': `Change role of ${m.address}` },
        'Change role',
      );
      save.addEventListener(
        'click',
        () =>
          void busy(save, errors, async () => {
            if (select.value === m.role) return;
            await ctx.api.patch<TeamMemberView>(`/v1/teams/${enc(team.id)}/members/${enc(m.address)}`, { role: select.value });
            announce(`${shortAddress(m.address)} is now ${select.value} of ${team.name}.`);
            if (self) await ctx.refreshTeams();
            else await load();
          }),
      );
      parts.push(select, save);
    }
    if (!self && teamRights.changeMember(role, m)) {
      const label = m.status === 'invited' ? 'Withdraw invitation' : 'Remove';
      const remove = h(
        'button',
        { type: 'button', class: 'danger', 'data-action': 'remove-member', 'aria-label': `${label} ${m.address}` },
        label,
      );
      remove.addEventListener('click', () => void removeMember(m));
      parts.push(remove);
    }
    return parts.length ? h('div', { class: 'row-actions' }, ...parts) : '—';
  }

  async function removeMember(m: TeamMemberView): Promise<void> {
    const ok = await formDialog({
      title: m.status === 'invited' ? 'Withdraw the invitation?' : `Remove ${shortAddress(m.address)} from ${team.name}?`,
      body: [
        h('p', null, h('code', { class: 'wrap' }, m.address)),
        h('p', null, 'Its access to the team’s keys, domains and usage ends at once, in every session.'),
      ],
      confirmLabel: m.status === 'invited' ? 'Withdraw invitation' : 'Remove member',
      danger: true,
      explain,
      onConfirm: async () => {
        await ctx.api.del(`/v1/teams/${enc(team.id)}/members/${enc(m.address)}`);
      },
    });
    if (ok) {
      announce(`${shortAddress(m.address)} removed from ${team.name}.`);
      await busy(null, errors, load);
    }
  }

  const leave = h('button', { type: 'button', class: 'danger', 'data-action': 'leave-team' }, 'Leave team');
  leave.addEventListener('click', () => {
    void formDialog({
      title: `Leave ${team.name}?`,
      body: [
        h('p', null, 'You lose access to its keys, domains and usage at once. A team member with the right role can invite you again.'),
      ],
      confirmLabel: 'Leave team',
      danger: true,
      explain,
      onConfirm: async () => {
        await ctx.api.del(`/v1/teams/${enc(team.id)}/members/${enc(me)}`);
      },
    }).then(async (left) => {
      if (!left) return;
      announce(`You left ${team.name}.`);
      ctx.selectTeam(null);
      await ctx.refreshTeams();
    });
  });

  const remove = h('button', { type: 'button', class: 'danger', 'data-action': 'delete-team' }, 'Delete team');
  remove.addEventListener('click', () => {
    void formDialog({
      title: `Delete the team ${team.name}?`,
      body: [
        h('p', null, 'Its keys stop working and its domains are deleted at once, for every member. This cannot be undone.'),
        field({ label: `Type the team’s name (${team.name}) to confirm`, control: h('input', { name: 'confirm', autocomplete: 'off' }) }),
      ],
      confirmLabel: 'Delete team',
      danger: true,
      explain,
      onConfirm: async (form) => {
        const typed = (form.elements.namedItem('confirm') as HTMLInputElement).value.trim();
        if (typed !== team.name) throw new Error(`Type ${team.name} exactly to delete the team.`);
        await ctx.api.del(`/v1/teams/${enc(team.id)}`);
      },
    }).then(async (deleted) => {
      if (!deleted) return;
      announce(`The team ${team.name} was deleted.`);
      ctx.selectTeam(null);
      await ctx.refreshTeams();
    });
  });

  const parts: HTMLElement[] = [
    section(
      `Team “${team.name}”`,
      h(
        'p',
        null,
        'Members share the team’s network keys, domains and balance. Keys and domains created here belong to the team, not to the wallet that created them.',
      ),
      summary,
      h('div', { class: 'toolbar' }, leave, role === 'owner' ? remove : null),
      errors.el,
    ),
  ];

  const memberParts: HTMLElement[] = [];
  if (teamRights.manageMembers(role)) memberParts.push(inviteForm());
  else
    memberParts.push(h('p', { class: 'hint' }, `As ${role === 'viewer' ? 'a viewer' : 'a member'}, you cannot invite or change members.`));
  parts.push(section('Members', ...memberParts, members));
  if (teamRights.readAudit(role)) {
    parts.push(
      auditPanel(ctx, {
        title: 'Team activity',
        path: `/v1/teams/${enc(team.id)}/audit`,
        showActor: true,
        addressFilter: false,
        actions: TEAM_ACTIONS,
      }),
    );
  }

  function inviteForm(): HTMLElement {
    const address = h('input', {
      name: 'address',
      required: true,
      autocomplete: 'off',
      spellcheck: 'false',
      placeholder: '0x…',
      maxlength: 42,
      class: 'address',
    });
    const roleSelect = h(
      'select',
      { name: 'role' },
      ...teamRights.assignable(role).map((r) => h('option', { value: r, selected: r === 'member' }, r)),
    );
    const submit = h('button', { type: 'submit', class: 'primary', 'data-action': 'invite' }, 'Invite');
    const form = h(
      'form',
      { class: 'inline-form', 'data-form': 'invite', novalidate: true },
      field({
        label: 'Wallet address',
        control: address,
        hint: 'The wallet joins with its own signature. Mixed-case addresses must pass their EIP-55 checksum.',
      }),
      field({ label: 'Role', control: roleSelect }),
      h('div', { class: 'actions' }, submit),
    );
    address.addEventListener('input', () => {
      address.removeAttribute('aria-invalid');
      inviteErrors.clear();
    });
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      // The address is checked here, before any request: a mistyped character is refused, not invited.
      const checked = checkAddress(address.value);
      if (!checked.ok) {
        inviteErrors.show(new ApiError(0, checked.code, checked.message, null));
        address.setAttribute('aria-invalid', 'true');
        address.focus();
        return;
      }
      void busy(submit, inviteErrors, async () => {
        await ctx.api.post<TeamMemberView>(`/v1/teams/${enc(team.id)}/members`, { address: checked.address, role: roleSelect.value });
        address.value = '';
        announce(`Invited ${shortAddress(checked.address)} to ${team.name} as ${roleSelect.value}.`);
        await load();
      });
    });
    return h('div', null, form, inviteErrors.el);
  }

  void busy(null, errors, load);
  return h('div', { class: 'stack', 'data-team-id': team.id }, ...parts);
}

/** The invitations the signed-in wallet has not answered, each with Accept and Decline. */
export function invitationsCard(ctx: Ctx, invited: TeamMembershipView[]): HTMLElement | null {
  if (invited.length === 0) return null;
  const errors = errorBox();
  const me = ctx.account().address;
  return section(
    invited.length === 1 ? 'Invitation' : 'Invitations',
    h(
      'ul',
      { class: 'invitations' },
      ...invited.map((t) => {
        const accept = h('button', { type: 'button', class: 'primary', 'aria-label': `Accept invitation to ${t.name}` }, 'Accept');
        const decline = h('button', { type: 'button', 'aria-label': `Decline invitation to ${t.name}` }, 'Decline');
        accept.addEventListener(
          'click',
          () =>
            void busy(accept, errors, async () => {
              await ctx.api.post(`/v1/teams/${enc(t.id)}/join`);
              announce(`You joined ${t.name} as ${t.role}.`);
              await ctx.refreshTeams();
              ctx.selectTeam(t.id);
            }),
        );
        decline.addEventListener(
          'click',
          () =>
            void busy(decline, errors, async () => {
              await ctx.api.del(`/v1/teams/${enc(t.id)}/members/${enc(me)}`);
              announce(`You declined the invitation to ${t.name}.`);
              await ctx.refreshTeams();
            }),
        );
        return h(
          'li',
          { 'data-invitation': t.id },
          h(
            'span',
            null,
            'You are invited to ',
            h('strong', null, t.name),
            ' as ',
            badge(t.role),
            ' by ',
            h('code', { title: t.invited_by }, shortAddress(t.invited_by)),
            '. You get access once you accept.',
          ),
          h('span', { class: 'row-actions' }, accept, decline),
        );
      }),
    ),
    errors.el,
  );
}

/** The "New team" dialog; resolves to the created team (the caller is its owner), or null. */
export async function createTeamDialog(ctx: Ctx): Promise<TeamView | null> {
  let created: TeamView | null = null;
  const name = h('input', { name: 'name', required: true, maxlength: 64, autocomplete: 'off' });
  await formDialog({
    title: 'Create a team',
    body: [
      h('p', null, 'A team shares network keys, domains and a balance between wallets. You become its owner and invite the others.'),
      field({ label: 'Team name', control: name }),
    ],
    confirmLabel: 'Create team',
    onConfirm: async () => {
      created = await ctx.api.post<TeamView>('/v1/teams', { name: name.value.trim() });
    },
  });
  return created;
}
