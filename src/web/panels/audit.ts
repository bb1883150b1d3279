import type { Ctx } from '../context.js';
import { h, replace } from '../dom.js';
import type { AuditEvent, Page } from '../types.js';
import { busy, errorBox, field, fmtTime, section, shortAddress, table } from '../ui.js';

const PAGE_SIZE = 25;
const ACTIONS = [
  'auth.sign_in',
  'auth.sign_out',
  'auth.sign_out_all',
  'key.create',
  'key.update',
  'key.rotate',
  'key.delete',
  'trial.apply',
  'trial.approve',
  'trial.reject',
  'account.credits',
  'domain.create',
  'domain.delete',
  'domain.token_rotate',
];

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

/**
 * The audit log one page at a time (newer / older), filtered by action, and on the admin log by
 * address: own events (/v1/audit) or everybody's (/v1/admin/audit).
 */
export function auditPanel(
  ctx: Ctx,
  opts: { title: string; path: string; showActor: boolean; addressFilter?: boolean; actions?: readonly string[] },
): HTMLElement {
  const byAddress = opts.addressFilter ?? opts.showActor;
  const errors = errorBox();
  const list = h('div', { 'aria-live': 'polite' }, h('p', null, 'Loading events…'));
  const pager = h('div', { class: 'pager' });
  const action = h(
    'select',
    { name: 'action' },
    h('option', { value: '' }, 'All actions'),
    ...(opts.actions ?? ACTIONS).map((a) => h('option', { value: a }, a)),
  );
  const address = h('input', {
    name: 'address',
    placeholder: '0x…',
    autocomplete: 'off',
    spellcheck: 'false',
    pattern: '0x[0-9a-fA-F]{40}',
  });
  const apply = h('button', { type: 'submit' }, 'Filter');
  const refresh = h('button', { type: 'button' }, 'Refresh');
  refresh.addEventListener('click', () => {
    cursors.length = 1;
    void busy(refresh, errors, () => load(0));
  });
  /** Cursors of the pages shown so far: the first page has none. */
  const cursors: (string | null)[] = [null];

  async function load(pageIndex: number): Promise<void> {
    const q = [`limit=${PAGE_SIZE}`];
    const cursor = cursors[pageIndex];
    if (cursor) q.push(`cursor=${encodeURIComponent(cursor)}`);
    if (action.value) q.push(`action=${encodeURIComponent(action.value)}`);
    if (byAddress && address.value.trim()) q.push(`address=${encodeURIComponent(address.value.trim())}`);
    const page = await ctx.api.get<Page<AuditEvent>>(`${opts.path}?${q.join('&')}`);
    const next = ctx.api.nextCursor(page);
    cursors.length = pageIndex + 1;
    if (next) cursors.push(next);
    replace(
      list,
      page.data.length === 0
        ? h('p', { class: 'empty' }, action.value || address.value ? 'No events match.' : 'No events yet.')
        : table<AuditEvent>(
            opts.title,
            [
              { label: 'When', cell: (e) => fmtTime(e.at) },
              ...(opts.showActor
                ? [{ label: 'Actor', cell: (e: AuditEvent) => (e.actor ? h('code', { title: e.actor }, shortAddress(e.actor)) : '—') }]
                : []),
              { label: 'Action', cell: (e) => h('code', null, e.action) },
              { label: 'Target', cell: (e) => (e.target ? h('code', { class: 'wrap' }, e.target) : '—') },
              { label: 'Detail', cell: (e) => h('small', { class: 'wrap' }, detailText(e.detail)) },
              { label: 'IP', cell: (e) => e.ip ?? '—' },
              { label: 'Request', cell: (e) => (e.request_id ? h('small', { class: 'wrap' }, e.request_id) : '—') },
            ],
            page.data,
            (e) => ({ 'data-action-name': e.action }),
          ),
    );
    const newer = h('button', { type: 'button', 'data-action': 'audit-newer', disabled: pageIndex === 0 }, '← Newer');
    newer.addEventListener('click', () => void busy(newer, errors, () => load(pageIndex - 1)));
    const older = h('button', { type: 'button', 'data-action': 'audit-older', disabled: !next }, 'Older →');
    older.addEventListener('click', () => void busy(older, errors, () => load(pageIndex + 1)));
    replace(pager, newer, h('span', { 'data-testid': 'audit-page' }, `Page ${pageIndex + 1}`), older);
  }

  const form = h(
    'form',
    { class: 'toolbar', 'data-form': 'audit-filter' },
    field({ label: 'Action', control: action }),
    byAddress ? field({ label: 'Address (actor or account)', control: address }) : null,
    apply,
    refresh,
  );
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    cursors.length = 1;
    void busy(apply, errors, () => load(0));
  });
  action.addEventListener('change', () => {
    cursors.length = 1;
    void busy(null, errors, () => load(0));
  });
  void busy(null, errors, () => load(0));
  return section(opts.title, form, errors.el, list, pager);
}
