import { teamParam, type Ctx } from '../context.js';
import { h, replace } from '../dom.js';
import type { Domain, DomainWithToken, Page } from '../types.js';
import { domainStatsSection } from './domain-stats.js';
import { announce, badge, busy, errorBox, field, fmtTime, formDialog, secretDialog, section, shortAddress, table } from '../ui.js';
import { teamErrorText, teamRights } from './team.js';

const enc = encodeURIComponent;

export function domainsPanel(ctx: Ctx): HTMLElement {
  const team = ctx.team();
  const canManage = !team || teamRights.manageDomains(team.role);
  const explain = (err: unknown): string | null => teamErrorText(team, err);
  const errors = errorBox(explain);
  const listErrors = errorBox(explain);
  const list = h('div', { 'aria-live': 'polite' }, h('p', null, 'Loading domains…'));
  const stats = h('div');
  const isAdmin = ctx.account().roles.includes('admin');

  function tokenDialog(d: DomainWithToken, title: string): Promise<void> {
    return secretDialog({
      title,
      secret: d.token,
      label: `Domain token for ${d.name}`,
      warning: 'Put it in your gateway’s configuration now; the service stores only a hash and cannot show it again.',
      extra: [
        h('p', null, 'Run the gateway in front of your node with:'),
        h(
          'pre',
          null,
          h('code', null, `npm run gateway -- --service ${ctx.config.origin} --upstream http://127.0.0.1:8080 --domain-token <token>`),
        ),
      ],
    });
  }

  async function load(): Promise<void> {
    const page = await ctx.api.get<Page<Domain>>(`/v1/domains?limit=100${teamParam(ctx)}`);
    replace(stats, page.data.length > 0 ? domainStatsSection(ctx, page.data) : null);
    if (page.data.length === 0) {
      replace(list, h('p', { class: 'empty' }, team ? `The team ${team.name} has no domains yet.` : 'No domains registered yet.'));
      return;
    }
    replace(
      list,
      table<Domain>(
        'Domains',
        [
          { label: 'Name', cell: (d) => h('strong', null, d.name) },
          { label: 'Visibility', cell: (d) => badge(d.visibility) },
          {
            label: 'Ownership',
            cell: (d) =>
              d.ownership === 'verified'
                ? h('span', { title: d.verified_at ? `Proven ${fmtTime(d.verified_at)}` : 'Proven' }, badge('verified', 'ok'))
                : h('span', { title: 'Not proven: anyone who proves this name can claim it.' }, badge('unverified', 'off')),
          },
          { label: 'Token', cell: (d) => (d.token_hint ? h('code', null, d.token_hint) : '—') },
          ...(isAdmin ? [{ label: 'Owner', cell: (d: Domain) => h('code', { title: d.owner }, shortAddress(d.owner)) }] : []),
          { label: 'Created', cell: (d) => fmtTime(d.created_at) },
          ...(canManage ? [{ label: 'Actions', cell: actions }] : []),
        ],
        page.data,
        (d) => ({ 'data-domain': d.name }),
      ),
    );
  }

  function actions(d: Domain): HTMLElement {
    const prove = h('button', { type: 'button', 'data-action': 'prove', 'aria-label': `Prove ownership of ${d.name}` }, 'Prove ownership');
    prove.addEventListener('click', () => void proveOwnership(d));
    const rotate = h(
      'button',
      { type: 'button', 'data-action': 'rotate-token', 'aria-label': `Rotate token of ${d.name}` },
      'Rotate token',
    );
    rotate.addEventListener('click', () => void rotateToken(d));
    const del = h(
      'button',
      { type: 'button', class: 'danger', 'data-action': 'delete', 'aria-label': `Delete domain ${d.name}` },
      'Delete',
    );
    del.addEventListener('click', () => void deleteDomain(d));
    return h('div', { class: 'row-actions' }, ...(d.ownership === 'verified' ? [] : [prove]), rotate, del);
  }

  async function proveOwnership(d: Domain): Promise<void> {
    const ok = await formDialog({
      explain,
      title: `Prove that you control ${d.name}`,
      body: [
        h(
          'p',
          null,
          'Publish this challenge in one of two places, then check. Until a domain is proven, another operator who proves the name can claim it.',
        ),
        h('p', null, 'A DNS TXT record:'),
        h('pre', null, h('code', null, `_siwe-keys.${d.name}  TXT  "${d.ownership_challenge}"`)),
        h('p', null, 'or a file served over HTTPS (no redirects):'),
        h('pre', null, h('code', null, `https://${d.name}/.well-known/siwe-keys.txt\n\n${d.ownership_challenge}`)),
      ],
      confirmLabel: 'Check now',
      onConfirm: async () => {
        await ctx.api.post<Domain>(`/v1/domains/${enc(d.id)}/ownership/check`);
      },
    });
    if (ok) {
      announce(`Domain ${d.name} is proven.`);
      await busy(null, listErrors, load);
    }
  }

  async function rotateToken(d: Domain): Promise<void> {
    let rotated: DomainWithToken | null = null;
    await formDialog({
      explain,
      title: `Rotate the token of ${d.name}?`,
      body: [h('p', null, 'The current token stops working at once; gateways using it refuse requests until you give them the new one.')],
      confirmLabel: 'Rotate token',
      onConfirm: async () => {
        rotated = await ctx.api.post<DomainWithToken>(`/v1/domains/${enc(d.id)}/token/rotate`);
      },
    });
    const r = rotated as DomainWithToken | null;
    if (r) await tokenDialog({ ...d, ...r }, `New token for ${d.name}`);
  }

  async function deleteDomain(d: Domain): Promise<void> {
    const ok = await formDialog({
      explain,
      title: `Delete ${d.name}?`,
      body: [h('p', null, 'Its token stops working at once. This cannot be undone.')],
      confirmLabel: 'Delete domain',
      danger: true,
      onConfirm: async () => ctx.api.del(`/v1/domains/${enc(d.id)}`),
    });
    if (ok) {
      announce(`Domain ${d.name} deleted.`);
      await busy(null, listErrors, load);
    }
  }

  const name = h('input', {
    name: 'name',
    required: true,
    autocomplete: 'off',
    spellcheck: 'false',
    placeholder: 'node-42.example.org',
    pattern: '[a-z0-9.\\-]+',
    maxlength: 253,
  });
  const visibility = h(
    'select',
    { name: 'visibility' },
    h('option', { value: 'network' }, 'network (operator node)'),
    h('option', { value: 'public' }, 'public (platform)'),
  );
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Register domain');
  const form = h(
    'form',
    { class: 'inline-form', 'data-form': 'domain' },
    field({ label: 'Domain name', control: name, hint: 'Lower-case DNS name of your node.' }),
    isAdmin ? field({ label: 'Visibility', control: visibility }) : null,
    h('div', { class: 'actions' }, submit),
  );
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    void busy(submit, errors, async () => {
      const body: Record<string, string> = { name: name.value.trim().toLowerCase() };
      if (isAdmin) body.visibility = visibility.value;
      if (team) body.team_id = team.id;
      const created = await ctx.api.post<DomainWithToken>('/v1/domains', body);
      name.value = '';
      await busy(null, listErrors, load);
      await tokenDialog(created, `Domain ${created.name} registered`);
      announce(`Domain ${created.name} registered.`);
    });
  });

  void busy(null, listErrors, load);
  return h(
    'div',
    { class: 'stack', 'data-scope': team ? `team:${team.id}` : 'personal' },
    section(
      team ? `Domains of ${team.name}` : 'Domains',
      h(
        'p',
        null,
        'Node operators register the domain of each node here and give its token to the gateway, which checks API keys with the service. Network domains accept network keys; public domains (run by the platform) accept developer keys.',
      ),
      canManage
        ? form
        : h(
            'p',
            { class: 'hint', 'data-testid': 'domains-read-only' },
            `Only owners and admins of ${team?.name ?? 'the team'} register or change its domains.`,
          ),
      errors.el,
      listErrors.el,
      list,
    ),
    stats,
  );
}
