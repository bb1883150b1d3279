import { teamParam, type Ctx } from '../context.js';
import { h, replace, uid } from '../dom.js';
import { DEFAULT_SCOPES, SCOPES, type ApiKey, type ApiKeyWithSecret, type Page } from '../types.js';
import { announce, badge, busy, errorBox, field, fmtInt, fmtTime, formDialog, secretDialog, section, shortAddress, table } from '../ui.js';
import { teamErrorText, teamRights } from './team.js';

const enc = encodeURIComponent;

function planNote(ctx: Ctx): HTMLElement {
  const team = ctx.team();
  if (team) {
    return h(
      'p',
      { 'data-testid': 'team-key-note' },
      'Keys of the team ',
      h('strong', null, team.name),
      ' are ',
      h('strong', null, 'network'),
      ' keys: they work on network domains run by node operators and spend the team’s balance (',
      h('strong', { 'data-testid': 'credits' }, team.credits === null ? 'not metered' : `${fmtInt(team.credits)} credits`),
      ').',
      teamRights.createKeys(team.role)
        ? null
        : h('span', { class: 'block' }, `As a viewer of ${team.name} you can read its keys, but not create or change them.`),
    );
  }
  const a = ctx.account();
  if (a.plan === 'developer') {
    return h(
      'p',
      null,
      'New keys are ',
      h('strong', null, 'developer'),
      ' keys: they work on the platform’s public domains and spend your credits (',
      h('strong', { 'data-testid': 'credits' }, fmtInt(a.credits)),
      ' left).',
    );
  }
  return h(
    'p',
    null,
    'New keys are ',
    h('strong', null, 'network'),
    ' keys: they work on network domains run by node operators. For developer keys on public domains, apply for the free trial.',
  );
}

function optionalInt(form: HTMLFormElement, name: string): number | undefined {
  const el = form.elements.namedItem(name) as HTMLInputElement | null;
  const v = el?.value.trim() ?? '';
  return v === '' ? undefined : Number(v);
}

const LIMIT_FIELDS = [
  ['rpm', 'Requests per minute'],
  ['daily_credits', 'Credits per day'],
  ['monthly_credits', 'Credits per month'],
] as const;

/** The scope checkboxes of the create and edit forms; `name` groups them (the create form's). */
function scopeChecks(checked: (scope: (typeof SCOPES)[number]) => boolean, name?: string): HTMLFieldSetElement {
  return h(
    'fieldset',
    { class: 'checks' },
    h('legend', null, 'Scopes'),
    ...SCOPES.map((s) => {
      const id = uid('scope');
      return h(
        'div',
        { class: 'check' },
        h('input', { type: 'checkbox', id, name, value: s, checked: checked(s), 'data-scope': s }),
        h('label', { for: id }, s),
      );
    }),
  );
}

/** The scopes checked in a create or edit form. */
function checkedScopes(form: HTMLFormElement): string[] {
  return [...form.querySelectorAll<HTMLInputElement>('input[data-scope]')].filter((c) => c.checked).map((c) => c.value);
}

/** The middle of the create and edit forms, in their order: description, scopes, models, limits. */
function sharedKeyFields(c: {
  description: HTMLInputElement;
  scopes: HTMLFieldSetElement;
  models: HTMLInputElement;
  limitsLegend: string;
  limit: (name: (typeof LIMIT_FIELDS)[number][0]) => HTMLInputElement;
}): HTMLElement[] {
  return [
    field({ label: 'Description (optional)', control: c.description }),
    c.scopes,
    field({ label: 'Models (optional)', control: c.models, hint: 'Comma-separated. Empty allows every model.' }),
    h(
      'fieldset',
      { class: 'grid3' },
      h('legend', null, c.limitsLegend),
      ...LIMIT_FIELDS.map(([n, label]) => field({ label, control: c.limit(n) })),
    ),
  ];
}

function createKeyBody(ctx: Ctx): HTMLElement[] {
  const name = h('input', { name: 'name', required: true, maxlength: 64, autocomplete: 'off' });
  const description = h('input', { name: 'description', maxlength: 1024, autocomplete: 'off' });
  const scopes = scopeChecks((s) => DEFAULT_SCOPES.includes(s), uid('scopes'));
  const models = h('input', { name: 'models', autocomplete: 'off', placeholder: 'llama-3-8b, mistral-7b' });
  const num = (n: string): HTMLInputElement => h('input', { name: n, type: 'number', min: 1, step: 1, inputmode: 'numeric' });
  const expires = h('input', { name: 'expires_in_days', type: 'number', min: 1, max: 3650, step: 1, inputmode: 'numeric' });
  const team = ctx.team();
  const type = !team && ctx.account().plan === 'developer' ? 'developer' : 'network';
  return [
    team
      ? h('p', null, 'Type: ', badge(type), ' (team keys are network keys). Owner: the team ', h('strong', null, team.name), '.')
      : h('p', null, 'Type: ', badge(type), ' (set by your plan).'),
    field({
      label: 'Name',
      control: name,
      hint: team ? 'Unique among the team’s keys; cannot be changed later.' : 'Unique among your keys; cannot be changed later.',
    }),
    ...sharedKeyFields({ description, scopes, models, limitsLegend: 'Limits (optional)', limit: num }),
    field({ label: 'Expires in days (optional)', control: expires, hint: 'Empty: the key does not expire.' }),
  ];
}

function readCreateForm(form: HTMLFormElement, teamId: string | null): Record<string, unknown> {
  const val = (n: string): string => ((form.elements.namedItem(n) as HTMLInputElement | null)?.value ?? '').trim();
  const scopes = checkedScopes(form);
  const models = val('models')
    .split(',')
    .map((m) => m.trim())
    .filter(Boolean);
  const limits: Record<string, number> = {};
  for (const [n] of LIMIT_FIELDS) {
    const v = optionalInt(form, n);
    if (v !== undefined) limits[n] = v;
  }
  const body: Record<string, unknown> = { name: val('name'), scopes };
  if (teamId) body.team_id = teamId;
  if (val('description')) body.description = val('description');
  if (models.length) body.models = models;
  if (Object.keys(limits).length) body.limits = limits;
  const days = optionalInt(form, 'expires_in_days');
  if (days !== undefined) body.expires_in_days = days;
  return body;
}

/** yyyy-mm-dd of an instant in the person's own time zone (what a date input shows). */
function localDate(iso: string): string {
  const d = new Date(iso);
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

function editKeyBody(k: ApiKey): HTMLElement[] {
  const description = h('input', { name: 'description', maxlength: 1024, autocomplete: 'off' });
  description.value = k.description ?? '';
  const scopes = scopeChecks((s) => k.scopes.includes(s));
  const models = h('input', { name: 'models', autocomplete: 'off', placeholder: 'llama-3-8b, mistral-7b' });
  models.value = (k.models ?? []).join(', ');
  // No `min` here: a value the service refuses (0) is sent, and its own message is shown.
  const limit = (n: (typeof LIMIT_FIELDS)[number][0]): HTMLInputElement => {
    const el = h('input', { name: n, type: 'number', step: 1, inputmode: 'numeric' });
    const v = k.limits?.[n];
    el.value = typeof v === 'number' ? String(v) : '';
    return el;
  };
  const never = h('input', { type: 'checkbox', name: 'never_expires', checked: !k.expires_at });
  const expires = h('input', { name: 'expires_on', type: 'date', disabled: !k.expires_at });
  expires.value = k.expires_at ? localDate(k.expires_at) : '';
  never.addEventListener('change', () => {
    expires.disabled = never.checked;
    if (!never.checked) expires.focus();
  });
  const neverId = uid('never');
  never.id = neverId;
  return [
    h('p', null, 'Name: ', h('strong', { 'data-testid': 'edit-key-name' }, k.name), ' (cannot be changed)'),
    ...sharedKeyFields({ description, scopes, models, limitsLegend: 'Limits (empty: no limit)', limit }),
    h(
      'fieldset',
      null,
      h('legend', null, 'Expiry'),
      h('div', { class: 'check' }, never, h('label', { for: neverId }, 'Never expires')),
      field({ label: 'Expires at the end of', control: expires, hint: 'A date in your time zone.' }),
    ),
  ];
}

/** The PATCH body: every editable field, with null where the person cleared a value. */
function readEditForm(form: HTMLFormElement, k: ApiKey): Record<string, unknown> {
  const input = (n: string): HTMLInputElement => form.elements.namedItem(n) as HTMLInputElement;
  const description = input('description').value.trim();
  const models = input('models')
    .value.split(',')
    .map((m) => m.trim())
    .filter(Boolean);
  const limits: Record<string, number | null> = {};
  for (const [n] of LIMIT_FIELDS) {
    const v = input(n).value.trim();
    limits[n] = v === '' ? null : Number(v);
  }
  const body: Record<string, unknown> = {
    description: description === '' ? null : description,
    scopes: checkedScopes(form),
    models: models.length ? models : null,
    limits,
  };
  const date = input('expires_on').value;
  if (input('never_expires').checked) {
    if (k.expires_at) body.expires_at = null;
  } else if (!date) {
    throw new Error('Choose an expiry date, or tick “Never expires”.');
  } else if (!k.expires_at || localDate(k.expires_at) !== date) {
    // Only a changed date is sent, so saving other fields keeps the exact expiry time.
    body.expires_at = new Date(`${date}T23:59:59`).toISOString();
  }
  return body;
}

function keySecretDialog(title: string, k: ApiKeyWithSecret, extra = ''): Promise<void> {
  return secretDialog({
    title,
    secret: k.key,
    label: `API key “${k.name}”`,
    warning: `Copy it now and keep it somewhere safe: the service stores only a hash and cannot show it again.${extra}`,
  });
}

function limitsText(k: ApiKey): string {
  const parts: string[] = [];
  if (k.limits?.rpm) parts.push(`${fmtInt(k.limits.rpm)}/min`);
  if (k.limits?.daily_credits) parts.push(`${fmtInt(k.limits.daily_credits)}/day`);
  if (k.limits?.monthly_credits) parts.push(`${fmtInt(k.limits.monthly_credits)}/month`);
  return parts.join(', ');
}

export function keysPanel(ctx: Ctx): HTMLElement {
  const team = ctx.team();
  const canCreate = !team || teamRights.createKeys(team.role);
  const me = ctx.account().address;
  /** The wallet that created a team key (null on personal keys). */
  const createdBy = (k: ApiKey): string | null => k.created_by ?? null;
  const canChange = (k: ApiKey): boolean => !team || teamRights.changeKey(team.role, me, createdBy(k));
  const explain = (err: unknown): string | null => teamErrorText(team, err);
  const listErrors = errorBox(explain);
  const list = h('div', { class: 'list', 'aria-live': 'polite' }, h('p', null, 'Loading keys…'));
  const more = h('div');
  const keys: ApiKey[] = [];
  const note = h('div', null, planNote(ctx));

  async function load(cursor: string | null): Promise<void> {
    const q = `${cursor ? `?limit=50&cursor=${enc(cursor)}` : '?limit=50'}${teamParam(ctx)}`;
    const page = await ctx.api.get<Page<ApiKey>>(`/v1/keys${q}`);
    if (!cursor) keys.length = 0;
    keys.push(...page.data);
    render();
    const next = ctx.api.nextCursor(page);
    replace(
      more,
      next
        ? h(
            'button',
            { type: 'button', onclick: (ev: Event) => void busy(ev.currentTarget as HTMLButtonElement, listErrors, () => load(next)) },
            'Load more',
          )
        : null,
    );
  }
  const reload = (): Promise<void> => busy(null, listErrors, () => load(null));

  function actions(k: ApiKey): HTMLElement {
    const edit = h('button', { type: 'button', 'data-action': 'edit' }, 'Edit');
    edit.addEventListener('click', () => void editKey(k));
    const rotate = h('button', { type: 'button', 'data-action': 'rotate' }, 'Rotate');
    rotate.addEventListener('click', () => void rotateKey(k));
    const toggle = h('button', { type: 'button', 'data-action': 'toggle' }, k.status === 'active' ? 'Disable' : 'Enable');
    toggle.addEventListener(
      'click',
      () =>
        void busy(toggle, listErrors, async () => {
          const status = k.status === 'active' ? 'disabled' : 'active';
          await ctx.api.patch<ApiKey>(`/v1/keys/${enc(k.id)}`, { status });
          announce(`Key “${k.name}” is now ${status}.`);
          await load(null);
        }),
    );
    const del = h('button', { type: 'button', class: 'danger', 'data-action': 'delete' }, 'Delete');
    del.addEventListener('click', () => void deleteKey(k));
    for (const b of [edit, rotate, toggle, del]) b.setAttribute('aria-label', `${b.textContent} key ${k.name}`);
    return h('div', { class: 'row-actions' }, edit, rotate, toggle, del);
  }

  function render(): void {
    if (keys.length === 0) {
      replace(
        list,
        h('p', { class: 'empty' }, team ? `The team ${team.name} has no keys yet.` : 'No keys yet. Create one to call the network.'),
      );
      return;
    }
    replace(
      list,
      table<ApiKey>(
        team ? `API keys of the team ${team.name}` : 'Your API keys',
        [
          {
            label: 'Name',
            cell: (k) =>
              h(
                'span',
                null,
                h('strong', { class: 'nowrap' }, k.name),
                k.description ? h('small', { class: 'block' }, k.description) : null,
              ),
          },
          { label: 'Type', cell: (k) => badge(k.type) },
          { label: 'Key', cell: (k) => h('code', { class: 'nowrap' }, k.hint) },
          { label: 'Scopes', cell: (k) => h('span', { class: 'scopes' }, k.scopes.join(' ')) },
          {
            label: 'Status',
            cell: (k) =>
              k.disabled_reason === 'trial_approved'
                ? h(
                    'span',
                    { 'data-disabled-reason': k.disabled_reason },
                    badge(k.status, 'off'),
                    h(
                      'small',
                      { class: 'block' },
                      'Turned off when your account was approved for free developer credits: its keys never work on network domains. Use a different account there.',
                    ),
                  )
                : badge(k.status, k.status === 'active' ? 'ok' : 'off'),
          },
          { label: 'Today', cell: (k) => fmtInt(k.usage?.today), className: 'num' },
          { label: 'This month', cell: (k) => fmtInt(k.usage?.this_month), className: 'num' },
          { label: 'Limits', cell: (k) => limitsText(k) || '—' },
          { label: 'Expires', cell: (k) => fmtTime(k.expires_at, 'never') },
          { label: 'Last used', cell: (k) => fmtTime(k.last_used_at, 'never') },
          ...(team
            ? [
                {
                  label: 'Created by',
                  cell: (k: ApiKey) => (createdBy(k) ? h('code', { title: createdBy(k) }, shortAddress(createdBy(k) as string)) : '—'),
                },
              ]
            : []),
          ...(keys.some(canChange) ? [{ label: 'Actions', cell: (k: ApiKey) => (canChange(k) ? actions(k) : '—') }] : []),
        ],
        keys,
        (k) => ({ 'data-key-id': k.id, 'data-key-name': k.name }),
      ),
    );
  }

  async function createKey(): Promise<void> {
    let created: ApiKeyWithSecret | null = null;
    await formDialog({
      explain,
      title: 'Create an API key',
      body: createKeyBody(ctx),
      confirmLabel: 'Create key',
      onConfirm: async (form) => {
        created = await ctx.api.post<ApiKeyWithSecret>('/v1/keys', readCreateForm(form, team?.id ?? null));
      },
    });
    const k = created as ApiKeyWithSecret | null;
    if (k) {
      await load(null).catch((err: unknown) => listErrors.show(err));
      await keySecretDialog('Your new API key', k);
      announce(`Key “${k.name}” created.`);
    }
  }

  async function editKey(k: ApiKey): Promise<void> {
    const saved = await formDialog({
      explain,
      title: `Edit “${k.name}”`,
      body: editKeyBody(k),
      confirmLabel: 'Save changes',
      onConfirm: async (form) => {
        await ctx.api.patch<ApiKey>(`/v1/keys/${enc(k.id)}`, readEditForm(form, k));
      },
    });
    if (saved) {
      announce(`Key “${k.name}” saved.`);
      await reload();
      // The row was re-rendered: put focus back on its Edit button rather than losing it.
      (list.querySelector(`tr[data-key-id="${CSS.escape(k.id)}"] [data-action="edit"]`) as HTMLElement | null)?.focus();
    }
  }

  async function rotateKey(k: ApiKey): Promise<void> {
    let rotated: ApiKeyWithSecret | null = null;
    const grace = h(
      'select',
      { name: 'grace' },
      h('option', { value: '0' }, 'Immediately'),
      h('option', { value: '300' }, 'After 5 minutes'),
      h('option', { value: '3600' }, 'After 1 hour'),
      h('option', { value: '86400' }, 'After 24 hours'),
    );
    await formDialog({
      explain,
      title: `Rotate “${k.name}”`,
      body: [
        h('p', null, 'A new secret replaces the current one; the key keeps its id, settings and usage.'),
        field({ label: 'Old secret stops working', control: grace, hint: 'A grace period lets running apps switch over.' }),
      ],
      confirmLabel: 'Rotate key',
      onConfirm: async () => {
        const grace_seconds = Number(grace.value);
        rotated = await ctx.api.post<ApiKeyWithSecret>(`/v1/keys/${enc(k.id)}/rotate`, grace_seconds > 0 ? { grace_seconds } : {});
      },
    });
    const r = rotated as ApiKeyWithSecret | null;
    if (r) {
      await load(null).catch((err: unknown) => listErrors.show(err));
      const when =
        grace.value === '0'
          ? ' The old secret has stopped working.'
          : ` The old secret keeps working for ${grace.selectedOptions[0]?.textContent?.replace('After ', '') ?? 'the grace period'}.`;
      await keySecretDialog(`New secret for “${r.name}”`, r, when);
      announce(`Key “${r.name}” rotated.`);
    }
  }

  async function deleteKey(k: ApiKey): Promise<void> {
    const ok = await formDialog({
      explain,
      title: `Delete “${k.name}”?`,
      body: [h('p', null, 'Apps using this key stop working at once. This cannot be undone; its usage records stay searchable.')],
      confirmLabel: 'Delete key',
      danger: true,
      onConfirm: async () => {
        await ctx.api.del(`/v1/keys/${enc(k.id)}`);
      },
    });
    if (ok) {
      announce(`Key “${k.name}” deleted.`);
      await reload();
    }
  }

  const create = h('button', { type: 'button', class: 'primary', 'data-action': 'create-key' }, 'Create key');
  create.addEventListener('click', () => void createKey());
  const refresh = h('button', { type: 'button' }, 'Refresh');
  refresh.addEventListener(
    'click',
    () =>
      void busy(refresh, listErrors, async () => {
        // A team's role or balance may have changed (or the caller was removed): re-read them first.
        if (team) await ctx.refreshTeams();
        else await ctx.refreshAccount();
        replace(note, planNote(ctx));
        await load(null);
      }),
  );

  void reload();
  return h(
    'div',
    { 'data-scope': team ? `team:${team.id}` : 'personal' },
    section(
      team ? `API keys of ${team.name}` : 'API keys',
      note,
      h('div', { class: 'toolbar' }, canCreate ? create : null, refresh),
      listErrors.el,
      list,
      more,
    ),
  );
}
