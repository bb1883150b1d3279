import { barChart } from '../chart.js';
import type { Ctx } from '../context.js';
import { h, replace } from '../dom.js';
import type { AdminStats } from '../types.js';
import { busy, errorBox, field, fmtInt, section } from '../ui.js';

const DAY = 86_400_000;

/** The platform at a glance: the admin tab opens on it. */
export function adminOverview(ctx: Ctx): HTMLElement {
  const errors = errorBox();
  const range = h(
    'select',
    { name: 'overview-range' },
    h('option', { value: '7' }, 'Last 7 days'),
    h('option', { value: '30', selected: true }, 'Last 30 days'),
    h('option', { value: '90' }, 'Last 90 days'),
  );
  const figures = h('div', { class: 'stats', 'aria-live': 'polite' }, h('p', null, 'Loading the overview…'));
  const charts = h('div', { class: 'charts2' });
  const refusals = h('p', { class: 'hint' });
  let latest = 0;

  async function load(): Promise<void> {
    const seq = ++latest;
    const to = Date.now() + 1;
    const from = to - Number(range.value) * DAY;
    const s = await ctx.api.get<AdminStats>(
      `/v1/admin/stats?from=${encodeURIComponent(new Date(from).toISOString())}&to=${encodeURIComponent(new Date(to).toISOString())}`,
    );
    if (seq !== latest) return; // a newer range was chosen meanwhile
    const stat = (label: string, value: number, id: string, sub: string) =>
      h(
        'div',
        { class: 'stat' },
        h('span', { class: 'label' }, label),
        h('span', { class: 'value', 'data-testid': id }, fmtInt(value)),
        h('span', { class: 'sub' }, sub),
      );
    const refused = s.verifications.total - (s.verifications.by_code.valid ?? 0);
    replace(
      figures,
      stat(
        'Accounts',
        s.accounts.total,
        'stat-accounts',
        `${fmtInt(s.accounts.developer)} developer · ${fmtInt(s.accounts.network)} network`,
      ),
      stat(
        'Trial applications pending',
        s.trial.pending,
        'stat-trial-pending',
        `${fmtInt(s.trial.approved)} approved · ${fmtInt(s.trial.rejected)} rejected`,
      ),
      stat('Keys active', s.keys.active, 'stat-keys', `${fmtInt(s.keys.disabled)} disabled`),
      stat('Verifications', s.verifications.total, 'stat-verifications', `${fmtInt(refused)} refused in the range`),
      stat('Credits charged', s.credits.charged, 'stat-charged', `${fmtInt(s.credits.uncharged)} uncharged`),
      stat('Credits granted', s.credits.granted, 'stat-granted', 'trial approvals and admin grants'),
    );
    const labels = s.data.map((b) => b.bucket);
    replace(
      charts,
      barChart({
        id: 'admin-verifications',
        title: 'Verifications per day',
        labels,
        series: [
          { name: 'valid', values: s.data.map((b) => b.valid) },
          { name: 'refused', values: s.data.map((b) => b.refused) },
        ],
        seriesClass: (name) => (name === 'valid' ? 'ok-fill' : 'series-3'),
      }),
      barChart({
        id: 'admin-credits',
        title: 'Credits charged per day',
        labels,
        series: [{ name: 'credits charged', values: s.data.map((b) => b.credits_charged) }],
      }),
    );
    const codes = Object.entries(s.verifications.by_code).filter(([c, n]) => c !== 'valid' && n > 0);
    refusals.textContent = codes.length > 0 ? `Refusals by code: ${codes.map(([c, n]) => `${c} ${fmtInt(n)}`).join(', ')}.` : '';
  }

  range.addEventListener('change', () => void busy(null, errors, load));
  void busy(null, errors, load);
  return section(
    'Platform overview',
    h('div', { class: 'toolbar' }, field({ label: 'Range', control: range })),
    errors.el,
    figures,
    charts,
    refusals,
  );
}
