import { barChart, downloadText } from '../chart.js';
import { teamParam, type Ctx } from '../context.js';
import { h, replace } from '../dom.js';
import type { ApiKey, AuditEvent, Page, UsageSummary } from '../types.js';
import { busy, errorBox, field, fmtInt, fmtTime, section, table } from '../ui.js';
import { teamErrorText } from './team.js';

type Bucket = UsageSummary['data'][number];
const enc = encodeURIComponent;
const DAY = 86_400_000;

const RANGES: { value: string; label: string; days: number; grain: 'day' | 'hour' }[] = [
  { value: '1', label: 'Last 24 hours', days: 1, grain: 'hour' },
  { value: '7', label: 'Last 7 days', days: 7, grain: 'day' },
  { value: '30', label: 'Last 30 days', days: 30, grain: 'day' },
  { value: '90', label: 'Last 90 days', days: 90, grain: 'day' },
];

function usageTable(caption: string, first: string, rows: Bucket[], name: (b: Bucket) => string, attr: string): HTMLElement {
  if (rows.length === 0) return h('p', { class: 'empty' }, 'No usage in this range.');
  return table<Bucket>(
    caption,
    [
      { label: first, cell: (b) => name(b) },
      { label: 'Requests', cell: (b) => fmtInt(b.requests), className: 'num' },
      { label: 'Input tokens', cell: (b) => fmtInt(b.input_tokens), className: 'num' },
      { label: 'Output tokens', cell: (b) => fmtInt(b.output_tokens), className: 'num' },
      { label: 'Cost', cell: (b) => fmtInt(b.cost), className: 'num' },
      { label: 'Charged', cell: (b) => fmtInt(b.charged), className: 'num' },
      { label: 'Uncharged', cell: (b) => fmtInt(b.uncharged), className: 'num' },
    ],
    rows,
    (b) => ({ [attr]: String(b.bucket ?? '') }),
  );
}

/** Credits granted to and taken from this account by admins (trial approval, adjustments). */
function creditsSection(ctx: Ctx): HTMLElement {
  const team = ctx.team();
  if (team) {
    return section(
      `Credits of ${team.name}`,
      h(
        'div',
        { class: 'stats' },
        h(
          'div',
          { class: 'stat' },
          h('span', { class: 'label' }, 'Team balance'),
          h('span', { class: 'value', 'data-testid': 'credits-balance' }, team.credits === null ? 'not metered' : fmtInt(team.credits)),
          h(
            'span',
            { class: 'sub' },
            team.credits === null ? 'No balance is enforced until an admin grants the team credits.' : 'Credits the team’s keys can spend.',
          ),
        ),
      ),
      h('p', { class: 'hint' }, 'What the team’s keys were charged is in the usage below.'),
    );
  }
  const errors = errorBox();
  const list = h('div', { 'aria-live': 'polite' });
  const balance = ctx.account().credits;
  async function load(): Promise<void> {
    const [approvals, changes] = await Promise.all([
      ctx.api.get<Page<AuditEvent>>('/v1/audit?action=trial.approve&limit=100'),
      ctx.api.get<Page<AuditEvent>>('/v1/audit?action=account.credits&limit=100'),
    ]);
    const events = [...approvals.data, ...changes.data].sort((a, b) => (a.id < b.id ? 1 : -1));
    const amount = (e: AuditEvent): number => {
      const d = (e.detail ?? {}) as { credits?: number; delta?: number };
      return Number(e.action === 'trial.approve' ? d.credits : d.delta) || 0;
    };
    replace(
      list,
      events.length === 0
        ? h('p', { class: 'empty' }, 'No credits granted yet.')
        : table<AuditEvent>(
            'Credit history',
            [
              { label: 'When', cell: (e) => fmtTime(e.at) },
              {
                label: 'What',
                cell: (e) =>
                  e.action === 'trial.approve'
                    ? 'Free trial approved'
                    : `Adjusted by an admin${(e.detail as { reason?: string } | null)?.reason ? `: ${(e.detail as { reason: string }).reason}` : ''}`,
              },
              { label: 'Credits', cell: (e) => `${amount(e) > 0 ? '+' : ''}${fmtInt(amount(e))}`, className: 'num' },
            ],
            events,
            () => ({ 'data-credit-event': '1' }),
          ),
    );
  }
  void busy(null, errors, load);
  return section(
    'Credits',
    h(
      'div',
      { class: 'stats' },
      h(
        'div',
        { class: 'stat' },
        h('span', { class: 'label' }, 'Balance'),
        h('span', { class: 'value', 'data-testid': 'credits-balance' }, balance === null ? 'not metered' : fmtInt(balance)),
        h('span', { class: 'sub' }, balance === null ? 'Network plan: no prepaid balance is enforced.' : 'Credits left to spend.'),
      ),
    ),
    h('h3', null, 'Grants and adjustments'),
    errors.el,
    list,
    h('p', { class: 'hint' }, 'What your requests were charged is in the usage below.'),
  );
}

export function usagePanel(ctx: Ctx): HTMLElement {
  const errors = errorBox((err) => teamErrorText(ctx.team(), err));
  const range = h('select', { name: 'range' }, ...RANGES.map((r) => h('option', { value: r.value, selected: r.value === '30' }, r.label)));
  const grain = h('select', { name: 'group_by' }, h('option', { value: 'day' }, 'Per day'), h('option', { value: 'hour' }, 'Per hour'));
  const keySelect = h('select', { name: 'key_id' }, h('option', { value: '' }, 'All keys'));
  const modelSelect = h('select', { name: 'model' }, h('option', { value: '' }, 'All models'));
  const download = h('button', { type: 'button', 'data-action': 'download-csv' }, 'Download CSV');
  const totalsEl = h('div', { class: 'stats', 'aria-live': 'polite' });
  const chartsEl = h('div', { class: 'charts2' }, h('p', null, 'Loading usage…'));
  const byModelEl = h('div');
  const byKeyEl = h('div');
  let keysLoaded = false;
  /** Answers of an older selection that arrive late must not replace a newer one. */
  let latest = 0;

  range.addEventListener('change', () => {
    grain.value = RANGES.find((r) => r.value === range.value)?.grain ?? 'day';
    void busy(null, errors, load);
  });
  for (const s of [grain, keySelect, modelSelect]) s.addEventListener('change', () => void busy(null, errors, load));

  function query(group: string, withFilters = true): string {
    const days = RANGES.find((r) => r.value === range.value)?.days ?? 30;
    const to = Date.now();
    const q = [`group_by=${group}`, `from=${enc(new Date(to - days * DAY).toISOString())}`, `to=${enc(new Date(to + 1).toISOString())}`];
    if (withFilters && keySelect.value) q.push(`key_id=${enc(keySelect.value)}`);
    if (withFilters && modelSelect.value) q.push(`model=${enc(modelSelect.value)}`);
    return `/v1/usage/summary?${q.join('&')}${teamParam(ctx)}`;
  }

  function fillSelect(select: HTMLSelectElement, allLabel: string, options: { value: string; label: string }[]): void {
    const keep = select.value;
    replace(select, h('option', { value: '' }, allLabel), ...options.map((o) => h('option', { value: o.value }, o.label)));
    select.value = options.some((o) => o.value === keep) ? keep : '';
  }

  async function load(): Promise<void> {
    const seq = ++latest;
    if (!keysLoaded) {
      const keys = await ctx.api.get<Page<ApiKey>>(`/v1/keys?limit=100${teamParam(ctx)}`);
      fillSelect(
        keySelect,
        'All keys',
        keys.data.map((k) => ({ value: k.id, label: k.name })),
      );
      keysLoaded = true;
    }
    const [series, byModel, byKey] = await Promise.all([
      ctx.api.get<UsageSummary>(query(grain.value)),
      ctx.api.get<UsageSummary>(query('model', false)),
      ctx.api.get<UsageSummary>(query('key', false)),
    ]);
    if (seq !== latest) return;
    fillSelect(
      modelSelect,
      'All models',
      byModel.data.filter((b) => b.bucket !== null).map((b) => ({ value: b.bucket as string, label: b.bucket as string })),
    );
    const t = series.totals;
    const stat = (label: string, value: number, id: string, sub?: string) =>
      h(
        'div',
        { class: 'stat' },
        h('span', { class: 'label' }, label),
        h('span', { class: 'value', 'data-testid': id }, fmtInt(value)),
        sub ? h('span', { class: 'sub' }, sub) : null,
      );
    replace(
      totalsEl,
      stat('Requests', t.requests, 'usage-requests'),
      stat('Cost', t.cost, 'usage-cost', 'credits'),
      stat('Charged', t.charged, 'usage-charged', t.uncharged > 0 ? `${fmtInt(t.uncharged)} uncharged` : undefined),
      stat('Tokens', t.input_tokens + t.output_tokens, 'usage-tokens', `${fmtInt(t.input_tokens)} in · ${fmtInt(t.output_tokens)} out`),
    );
    const labels = series.data.map((b) =>
      series.group_by === 'hour' ? (b.bucket as string).slice(5, 16).replace('T', ' ') : (b.bucket as string),
    );
    const per = series.group_by === 'hour' ? 'hour' : 'day';
    replace(
      chartsEl,
      barChart({
        id: 'usage-cost',
        title: `Cost per ${per} (credits)`,
        labels,
        series: [
          { name: 'charged', values: series.data.map((b) => b.charged) },
          { name: 'uncharged', values: series.data.map((b) => b.uncharged) },
        ],
      }),
      barChart({
        id: 'usage-requests',
        title: `Requests per ${per}`,
        labels,
        series: [{ name: 'requests', values: series.data.map((b) => b.requests) }],
      }),
    );
    replace(
      byModelEl,
      usageTable('Usage by model', 'Model', byModel.data, (b) => b.bucket ?? '(none)', 'data-model'),
    );
    replace(
      byKeyEl,
      usageTable('Usage by key', 'Key', byKey.data, (b) => b.key_name ?? `${b.bucket} (deleted)`, 'data-key'),
    );
  }

  download.addEventListener(
    'click',
    () =>
      void busy(download, errors, async () => {
        downloadText(`usage-${range.value}d-by-${grain.value}.csv`, await ctx.api.csv(query(grain.value)));
      }),
  );
  void busy(null, errors, load);
  const team = ctx.team();
  return h(
    'div',
    { class: 'stack', 'data-scope': team ? `team:${team.id}` : 'personal' },
    creditsSection(ctx),
    section(
      team ? `Usage of ${team.name}` : 'Usage',
      h(
        'div',
        { class: 'toolbar' },
        field({ label: 'Range', control: range }),
        field({ label: 'Buckets', control: grain }),
        field({ label: 'Key', control: keySelect }),
        field({ label: 'Model', control: modelSelect }),
        download,
      ),
      errors.el,
      totalsEl,
      chartsEl,
      h('h3', null, 'By model'),
      byModelEl,
      h('h3', null, 'By key'),
      byKeyEl,
    ),
  );
}
