import type { Ctx } from '../context.js';
import { h, replace } from '../dom.js';
import type { AuditEvent, Page } from '../types.js';
import { busy, errorBox, fmtTime, section, shortAddress, table } from '../ui.js';

function detailText(d: unknown): string {
  if (d === null || d === undefined) return '';
  if (typeof d === 'string') return d;
  try {
    const s = JSON.stringify(d);
    return s === '{}' ? '' : s;
  } catch {
    return '';
  }
}

/** A paged audit log: own events (/v1/audit) or everybody's (/v1/admin/audit). */
export function auditPanel(ctx: Ctx, opts: { title: string; path: string; showActor: boolean }): HTMLElement {
  const errors = errorBox();
  const list = h('div', { 'aria-live': 'polite' }, h('p', null, 'Loading events…'));
  const more = h('div');
  const events: AuditEvent[] = [];

  async function load(cursor: string | null): Promise<void> {
    const q = cursor ? `?limit=50&cursor=${encodeURIComponent(cursor)}` : '?limit=50';
    const page = await ctx.api.get<Page<AuditEvent>>(`${opts.path}${q}`);
    if (!cursor) events.length = 0;
    events.push(...page.data);
    replace(
      list,
      events.length === 0
        ? h('p', { class: 'empty' }, 'No events yet.')
        : table<AuditEvent>(
            opts.title,
            [
              { label: 'When', cell: (e) => fmtTime(e.at) },
              ...(opts.showActor ? [{ label: 'Actor', cell: (e: AuditEvent) => (e.actor ? h('code', { title: e.actor }, shortAddress(e.actor)) : '—') }] : []),
              { label: 'Action', cell: (e) => h('code', null, e.action) },
              { label: 'Target', cell: (e) => (e.target ? h('code', { class: 'wrap' }, e.target) : '—') },
              { label: 'Detail', cell: (e) => h('small', { class: 'wrap' }, detailText(e.detail)) },
              { label: 'IP', cell: (e) => e.ip ?? '—' },
              { label: 'Request', cell: (e) => (e.request_id ? h('small', { class: 'wrap' }, e.request_id) : '—') },
            ],
            events,
            (e) => ({ 'data-action-name': e.action }),
          ),
    );
    const next = ctx.api.nextCursor(page);
    replace(more, next ? h('button', { type: 'button', onclick: (ev: Event) => void busy(ev.currentTarget as HTMLButtonElement, errors, () => load(next)) }, 'Load older events') : null);
  }

  const refresh = h('button', { type: 'button' }, 'Refresh');
  refresh.addEventListener('click', () => void busy(refresh, errors, () => load(null)));
  void busy(null, errors, () => load(null));
  return section(opts.title, h('div', { class: 'toolbar' }, refresh), errors.el, list, more);
}
