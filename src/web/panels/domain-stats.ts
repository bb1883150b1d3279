import { barChart, downloadText } from '../chart.js';
import type { Ctx } from '../context.js';
import { h, replace } from '../dom.js';
import type { Domain, DomainStats } from '../types.js';
import { busy, errorBox, field, fmtInt } from '../ui.js';
import { REFUSAL_CODES } from '../../contract/verify-codes.js';

const enc = encodeURIComponent;
const DAY = 86_400_000;
/** Charts drawn at once; more domains are listed in the table above and load on demand. */
const MAX_CHARTS = 20;

/** `valid` is always green; each refusal code keeps one colour (never green) on every chart. */
const REFUSAL_COLOURS = [1, 3, 4, 5, 6, 7, 0];
// The contract's order (plain data from src/contract: nothing of the server enters the bundle).
const REFUSAL_ORDER: readonly string[] = REFUSAL_CODES;
const seriesClass = (name: string): string => {
  if (name === 'valid') return 'ok-fill';
  const i = Math.max(0, REFUSAL_ORDER.indexOf(name));
  return `series-${REFUSAL_COLOURS[i % REFUSAL_COLOURS.length]}`;
};

function domainChart(ctx: Ctx, d: Domain, days: number): HTMLElement {
  const errors = errorBox();
  const body = h('div', { 'aria-live': 'polite' }, h('p', null, `Loading ${d.name}…`));
  const group = days <= 2 ? 'hour' : 'day';
  const to = Date.now() + 1;
  const path = `/v1/domains/${enc(d.id)}/stats?group_by=${group}&from=${enc(new Date(to - days * DAY).toISOString())}&to=${enc(new Date(to).toISOString())}`;
  const csv = h(
    'button',
    { type: 'button', class: 'link', 'data-action': 'domain-csv', 'aria-label': `Download the statistics of ${d.name} as CSV` },
    'CSV',
  );
  csv.addEventListener(
    'click',
    () => void busy(csv, errors, async () => downloadText(`${d.name}-verifications.csv`, await ctx.api.csv(path))),
  );
  void busy(null, errors, async () => {
    const s = await ctx.api.get<DomainStats>(path);
    const codes = Object.keys(s.totals.refused).filter((c) => (s.totals.refused[c] ?? 0) > 0);
    const labels = s.data.map((b) => (group === 'hour' ? b.bucket.slice(5, 16).replace('T', ' ') : b.bucket));
    const t = s.totals;
    replace(
      body,
      h(
        'p',
        { class: 'hint', 'data-testid': 'domain-totals' },
        `${fmtInt(t.verifications)} verifications: ${fmtInt(t.valid)} valid, ${fmtInt(t.verifications - t.valid)} refused; ${fmtInt(t.credits_charged)} credits charged.`,
      ),
      barChart({
        id: `domain-${d.name}`,
        title: `Verifications of ${d.name} by outcome, per ${group}`,
        labels,
        series: [
          { name: 'valid', values: s.data.map((b) => b.valid) },
          ...codes.map((c) => ({ name: c, values: s.data.map((b) => b.refused[c] ?? 0) })),
        ],
        seriesClass,
      }),
    );
  });
  return h('article', { class: 'domain-stats', 'data-domain-stats': d.name }, h('h3', null, d.name, ' ', csv), errors.el, body);
}

/** Per domain, a chart of what its verifications answered over the chosen range. */
export function domainStatsSection(ctx: Ctx, domains: Domain[]): HTMLElement {
  const range = h(
    'select',
    { name: 'stats-range' },
    h('option', { value: '1' }, 'Last 24 hours'),
    h('option', { value: '7' }, 'Last 7 days'),
    h('option', { value: '30', selected: true }, 'Last 30 days'),
  );
  const charts = h('div');
  const render = (): void => {
    const days = Number(range.value);
    replace(
      charts,
      ...domains.slice(0, MAX_CHARTS).map((d) => domainChart(ctx, d, days)),
      domains.length > MAX_CHARTS ? h('p', { class: 'hint' }, `Showing the first ${MAX_CHARTS} domains.`) : null,
    );
  };
  range.addEventListener('change', render);
  render();
  return h(
    'div',
    { class: 'card' },
    h('h2', null, 'Verifications'),
    h('p', { class: 'hint' }, 'What each domain’s key checks answered, by outcome. Counts reach the charts within seconds.'),
    h('div', { class: 'toolbar' }, field({ label: 'Range', control: range })),
    charts,
  );
}
