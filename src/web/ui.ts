import { ApiError, errorText } from '../../packages/web/src/index.js';
import { h, replace, uid, type Child } from './dom.js';

/** A role=alert box that shows a failure in words (the API's message, plus its request id). */
export interface ErrorBox {
  el: HTMLElement;
  show(err: unknown): void;
  clear(): void;
}

/** `explain` may turn a known failure (a stable error code) into plainer words; null keeps the API's message. */
export function errorBox(explain?: (err: unknown) => string | null): ErrorBox {
  const el = h('div', { class: 'error', role: 'alert', hidden: true });
  return {
    el,
    show(err) {
      const rid = err instanceof ApiError && err.requestId ? h('span', { class: 'rid' }, ` (request ${err.requestId})`) : null;
      replace(el, explain?.(err) ?? errorText(err), rid);
      if (err instanceof ApiError) el.setAttribute('data-error-code', err.code);
      else el.removeAttribute('data-error-code');
      el.hidden = false;
    },
    clear() {
      el.hidden = true;
      el.removeAttribute('data-error-code');
      replace(el);
    },
  };
}

let statusEl: HTMLElement | null = null;
let clearTimer = 0;
/** Polite announcement for screen readers and a short visible toast for everyone. */
export function announce(message: string): void {
  statusEl ??= document.getElementById('status');
  if (!statusEl) return;
  statusEl.textContent = '';
  window.clearTimeout(clearTimer);
  // Setting the text after a tick makes screen readers announce a repeated message again.
  window.setTimeout(() => {
    if (statusEl) statusEl.textContent = message;
  }, 30);
  clearTimer = window.setTimeout(() => {
    if (statusEl) statusEl.textContent = '';
  }, 6000);
}

/** Runs `task` with the button disabled and marked busy; errors go to `errors`. */
export async function busy(button: HTMLButtonElement | null, errors: ErrorBox | null, task: () => Promise<void>): Promise<void> {
  errors?.clear();
  if (button) {
    button.disabled = true;
    button.setAttribute('aria-busy', 'true');
  }
  try {
    await task();
  } catch (err) {
    if (errors) errors.show(err);
    else announce(errorText(err));
  } finally {
    if (button) {
      button.disabled = false;
      button.removeAttribute('aria-busy');
    }
  }
}

export interface FieldOptions {
  label: string;
  hint?: string;
  control: HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement;
}

/** A labelled control with an optional hint wired through aria-describedby. */
export function field(o: FieldOptions): HTMLElement {
  const id = o.control.id || uid('f');
  o.control.id = id;
  const hint = o.hint ? h('small', { id: `${id}-hint`, class: 'hint' }, o.hint) : null;
  if (hint) o.control.setAttribute('aria-describedby', hint.id);
  return h('div', { class: 'field' }, h('label', { for: id }, o.label), o.control, hint);
}

export interface DialogOptions {
  title: string;
  body: Child[];
  confirmLabel: string;
  cancelLabel?: string;
  danger?: boolean;
  /** Runs on confirm; a thrown error is shown inside the dialog, which stays open. */
  onConfirm(form: HTMLFormElement): Promise<void>;
  /** Plainer words for a known failure (see errorBox). */
  explain?: (err: unknown) => string | null;
}

/** A modal form dialog (native <dialog>: focus trap, Escape to cancel). Resolves true if confirmed. */
export function formDialog(o: DialogOptions): Promise<boolean> {
  return new Promise((resolve) => {
    const titleId = uid('dlg');
    const errors = errorBox(o.explain);
    const confirm = h('button', { type: 'submit', class: o.danger ? 'danger' : 'primary' }, o.confirmLabel);
    const cancel = h('button', { type: 'button' }, o.cancelLabel ?? 'Cancel');
    let confirmed = false;
    const form = h(
      'form',
      { novalidate: false },
      h('h2', { id: titleId }, o.title),
      ...o.body,
      errors.el,
      h('div', { class: 'actions' }, cancel, confirm),
    );
    const dialog = h('dialog', { 'aria-labelledby': titleId }, form);
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      void busy(confirm, errors, async () => {
        await o.onConfirm(form);
        confirmed = true;
        dialog.close();
      });
    });
    cancel.addEventListener('click', () => dialog.close());
    dialog.addEventListener('close', () => {
      dialog.remove();
      resolve(confirmed);
    });
    document.body.appendChild(dialog);
    dialog.showModal();
  });
}

/**
 * Shows a secret (API key, domain token) exactly once, with a copy button and a warning; the text
 * is removed from the page when the dialog closes.
 */
export function secretDialog(o: { title: string; secret: string; label: string; warning: string; extra?: Child[] }): Promise<void> {
  return new Promise((resolve) => {
    const titleId = uid('dlg');
    const input = h('input', {
      type: 'text',
      readonly: true,
      class: 'secret',
      spellcheck: 'false',
      autocomplete: 'off',
      'data-testid': 'secret',
    });
    input.value = o.secret;
    const copied = h('span', { class: 'copied', role: 'status' });
    const copy = h('button', { type: 'button', class: 'primary', autofocus: true }, 'Copy');
    copy.addEventListener('click', () => {
      void copyText(o.secret, input).then((ok) => {
        copied.textContent = ok ? 'Copied to the clipboard.' : 'Copy failed: select the text and copy it by hand.';
      });
    });
    input.addEventListener('focus', () => input.select());
    const done = h('button', { type: 'button' }, "I've stored it safely");
    const dialog = h(
      'dialog',
      { 'aria-labelledby': titleId, class: 'secret-dialog' },
      h('h2', { id: titleId }, o.title),
      h('p', { class: 'warning' }, h('strong', null, 'Shown only once. '), o.warning),
      field({ label: o.label, control: input }),
      h('div', { class: 'actions' }, copied, copy),
      ...(o.extra ?? []),
      h('div', { class: 'actions' }, done),
    );
    done.addEventListener('click', () => dialog.close());
    dialog.addEventListener('close', () => {
      input.value = '';
      dialog.remove();
      resolve();
    });
    document.body.appendChild(dialog);
    dialog.showModal();
    copy.focus();
  });
}

async function copyText(text: string, fallback: HTMLInputElement): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    // Clipboard API refused (permissions, insecure context): fall back to a selection copy.
    fallback.focus();
    fallback.select();
    try {
      return document.execCommand('copy');
    } catch {
      return false;
    }
  }
}

// ---- formatting ----

export function fmtTime(iso: string | null | undefined, empty = '—'): Child {
  if (!iso) return empty;
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const text = d.toLocaleString(undefined, { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
  return h('time', { datetime: iso, title: iso }, text);
}

export function fmtInt(n: number | null | undefined): string {
  return typeof n === 'number' ? n.toLocaleString('en-US') : '—';
}

export function shortAddress(a: string): string {
  return a.length > 12 ? `${a.slice(0, 6)}…${a.slice(-4)}` : a;
}

export interface Column<T> {
  label: string;
  cell(row: T): Child;
  className?: string;
}

/** A table that turns into labelled cards at phone width (CSS uses data-label). */
export function table<T>(
  caption: string,
  columns: Column<T>[],
  rows: T[],
  rowAttrs?: (row: T) => Record<string, string>,
): HTMLTableElement {
  return h(
    'table',
    { class: 'rows' },
    h('caption', { class: 'visually-hidden' }, caption),
    h('thead', null, h('tr', null, ...columns.map((c) => h('th', { scope: 'col' }, c.label)))),
    h(
      'tbody',
      null,
      ...rows.map((row) =>
        h('tr', rowAttrs?.(row) ?? null, ...columns.map((c) => h('td', { 'data-label': c.label, class: c.className }, c.cell(row)))),
      ),
    ),
  );
}

export function badge(text: string, kind = ''): HTMLElement {
  return h('span', { class: `badge ${kind}`.trim() }, text);
}

export function section(title: string, ...children: Child[]): HTMLElement {
  const id = uid('sec');
  return h('section', { 'aria-labelledby': id, class: 'card' }, h('h2', { id }, title), ...children);
}
