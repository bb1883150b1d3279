/**
 * Bar charts drawn as inline SVG with createElementNS: no chart library, nothing injected, no
 * inline styles (colours come from classes in styles.css), so the console's strict CSP holds.
 * Each chart carries a table of the same numbers (a disclosure under it) for screen readers and
 * for anyone who wants the figures.
 */
import { h } from './dom.js';
import { fmtInt } from './ui.js';

const SVG_NS = 'http://www.w3.org/2000/svg';
const W = 640;
const H = 220;
const PAD = { top: 12, right: 8, bottom: 28, left: 52 };

function svg<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | number>,
  ...children: (SVGElement | string)[]
): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  for (const c of children) el.append(c);
  return el;
}

export interface Series {
  name: string;
  values: number[];
}

/** A round axis top at or above max (1, 2 or 4 times a power of ten, at least 2): whole-number halves. */
function niceMax(max: number): number {
  if (max <= 2) return 2;
  const p = 10 ** Math.floor(Math.log10(max));
  for (const m of [1, 2, 4, 10]) if (m * p >= max) return m * p;
  return 10 * p;
}

function compact(n: number): string {
  if (n >= 1e9) return `${+(n / 1e9).toFixed(1)}G`;
  if (n >= 1e6) return `${+(n / 1e6).toFixed(1)}M`;
  if (n >= 1e3) return `${+(n / 1e3).toFixed(1)}k`;
  return String(n);
}

/**
 * Bars per bucket; several series are stacked. `labels` name the buckets (dates or hours).
 * Series colours follow their order (classes s0, s1, ...); `seriesClass` can pin one by name.
 */
export function barChart(o: {
  title: string;
  labels: string[];
  series: Series[];
  id: string;
  seriesClass?: (name: string, index: number) => string;
}): HTMLElement {
  const n = o.labels.length;
  const totals = o.labels.map((_, i) => o.series.reduce((acc, s) => acc + (s.values[i] ?? 0), 0));
  const grand = totals.reduce((a, b) => a + b, 0);
  const top = niceMax(Math.max(0, ...totals));
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const slot = n > 0 ? plotW / n : plotW;
  const barW = Math.max(1, slot * (n > 60 ? 1 : 0.8));
  const y = (v: number): number => PAD.top + plotH - (v / top) * plotH;
  const cls = (name: string, i: number): string => o.seriesClass?.(name, i) ?? `series-${i % 8}`;

  const grid = svg('g', { class: 'grid' });
  for (const f of [0, 0.5, 1]) {
    const v = top * f;
    grid.append(
      svg('line', { x1: PAD.left, x2: W - PAD.right, y1: y(v), y2: y(v) }),
      svg('text', { x: PAD.left - 6, y: y(v) + 4, 'text-anchor': 'end' }, compact(v)),
    );
  }
  const bars = svg('g', { class: 'bars' });
  for (let i = 0; i < n; i++) {
    let base = 0;
    const x = PAD.left + i * slot + (slot - barW) / 2;
    o.series.forEach((s, si) => {
      const v = s.values[i] ?? 0;
      if (v <= 0) return;
      const rect = svg(
        'rect',
        {
          x: x.toFixed(2),
          y: y(base + v).toFixed(2),
          width: barW.toFixed(2),
          height: Math.max(0.5, y(base) - y(base + v)).toFixed(2),
          class: cls(s.name, si),
          'data-bucket': o.labels[i],
          'data-series': s.name,
          'data-value': v,
        },
        svg('title', {}, `${o.labels[i]} · ${s.name}: ${fmtInt(v)}`),
      );
      bars.append(rect);
      base += v;
    });
  }
  const axis = svg('g', { class: 'axis' });
  const marks = n <= 1 ? [0] : [0, Math.floor((n - 1) / 2), n - 1];
  for (const i of new Set(marks)) {
    if (n === 0) break;
    const anchor = i === 0 ? 'start' : i === n - 1 ? 'end' : 'middle';
    const x = i === 0 ? PAD.left : i === n - 1 ? W - PAD.right : PAD.left + (i + 0.5) * slot;
    axis.append(svg('text', { x, y: H - 8, 'text-anchor': anchor }, o.labels[i]));
  }
  axis.append(svg('line', { x1: PAD.left, x2: W - PAD.right, y1: y(0), y2: y(0) }));

  const summary = `${o.title}: ${fmtInt(grand)} in total over ${n} ${n === 1 ? 'bucket' : 'buckets'}${o.series.length > 1 ? `, by ${o.series.map((s) => s.name).join(', ')}` : ''}.`;
  const chart = svg(
    'svg',
    { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': summary, class: 'chart-svg', preserveAspectRatio: 'xMidYMid meet' },
    grid,
    bars,
    axis,
  );

  const legend =
    o.series.length > 1
      ? h(
          'ul',
          { class: 'legend' },
          ...o.series.map((s, i) =>
            h(
              'li',
              null,
              h('span', { class: `swatch ${cls(s.name, i)}`, 'aria-hidden': 'true' }),
              `${s.name} (${fmtInt(s.values.reduce((a, b) => a + b, 0))})`,
            ),
          ),
        )
      : null;
  const rows = o.labels.map((label, i) => ({ label, i })).filter((r) => totals[r.i] > 0);
  const tableEl = h(
    'details',
    { class: 'chart-table' },
    h('summary', null, 'Show the numbers'),
    rows.length === 0
      ? h('p', { class: 'empty' }, 'Nothing in this range.')
      : h(
          'table',
          { class: 'rows' },
          h('caption', { class: 'visually-hidden' }, o.title),
          h(
            'thead',
            null,
            h('tr', null, h('th', { scope: 'col' }, 'Bucket'), ...o.series.map((s) => h('th', { scope: 'col', class: 'num' }, s.name))),
          ),
          h(
            'tbody',
            null,
            ...rows.map((r) =>
              h(
                'tr',
                null,
                h('td', { 'data-label': 'Bucket' }, r.label),
                ...o.series.map((s) => h('td', { 'data-label': s.name, class: 'num' }, fmtInt(s.values[r.i] ?? 0))),
              ),
            ),
          ),
        ),
  );
  const figure = h('figure', { class: 'chart', 'data-chart': o.id, 'data-total': grand }, h('figcaption', null, o.title), legend);
  figure.append(chart);
  figure.append(tableEl);
  return figure;
}

/** Saves text as a file through a temporary object URL (the page's CSP allows no data: links). */
export function downloadText(name: string, text: string, type = 'text/csv'): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = h('a', { href: url, download: name, class: 'visually-hidden' });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
