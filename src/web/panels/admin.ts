import type { Ctx } from '../context.js';
import { h, replace, uid } from '../dom.js';
import type { Account, Application, Page } from '../types.js';
import { announce, badge, busy, errorBox, field, fmtInt, fmtTime, formDialog, section, shortAddress } from '../ui.js';
import { adminOverview } from './admin-overview.js';
import { auditPanel } from './audit.js';
import { applicationFacts } from './trial.js';

const enc = encodeURIComponent;

function applicationsSection(ctx: Ctx, onChanged: () => void): HTMLElement {
  const errors = errorBox();
  const list = h('div', { 'aria-live': 'polite' }, h('p', null, 'Loading applications…'));
  const filter = h(
    'select',
    { name: 'status' },
    h('option', { value: 'pending' }, 'Pending'),
    h('option', { value: 'approved' }, 'Approved'),
    h('option', { value: 'rejected' }, 'Rejected'),
  );
  filter.addEventListener('change', () => void busy(null, errors, load));

  function card(a: Application): HTMLElement {
    const head = h(
      'div',
      { class: 'app-head' },
      h('code', { title: a.address }, a.address),
      ' ',
      badge(a.status, a.status === 'approved' ? 'ok' : a.status === 'rejected' ? 'off' : ''),
    );
    const facts = applicationFacts(
      a,
      a.reviewed_at
        ? [h('dt', null, 'Reviewed'), h('dd', null, fmtTime(a.reviewed_at), a.reviewed_by ? ` by ${shortAddress(a.reviewed_by)}` : '')]
        : null,
      a.credits_granted !== null && a.credits_granted !== undefined
        ? [h('dt', null, 'Credits granted'), h('dd', null, fmtInt(a.credits_granted))]
        : null,
      a.reason ? [h('dt', null, 'Reason'), h('dd', null, a.reason)] : null,
    );
    const actions = a.status === 'pending' ? reviewForm(a) : null;
    return h('article', { class: 'application', 'data-application': a.address }, head, facts, actions);
  }

  function reviewForm(a: Application): HTMLElement {
    const cardErrors = errorBox();
    const credits = h('input', { type: 'number', min: 0, step: 1, inputmode: 'numeric', name: 'credits', required: true });
    credits.value = String(ctx.config.trial_credits);
    const approve = h('button', { type: 'submit', class: 'primary' }, 'Approve');
    approve.setAttribute('aria-label', `Approve application of ${a.address}`);
    const reject = h('button', { type: 'button', class: 'danger' }, 'Reject…');
    reject.setAttribute('aria-label', `Reject application of ${a.address}`);
    const form = h(
      'form',
      { class: 'inline-form' },
      field({ label: 'Credits to grant', control: credits }),
      h('div', { class: 'actions' }, approve, reject),
      cardErrors.el,
    );
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      void busy(approve, cardErrors, async () => {
        await ctx.api.post<Application>(`/v1/admin/trial/applications/${enc(a.id)}/approve`, { credits: Number(credits.value) });
        announce(`Approved ${a.address} with ${fmtInt(Number(credits.value))} credits.`);
        onChanged();
        await load();
      });
    });
    reject.addEventListener('click', () => {
      const reason = h('textarea', { name: 'reason', required: true, rows: 3, maxlength: 1000 });
      void formDialog({
        title: `Reject the application of ${shortAddress(a.address)}?`,
        body: [field({ label: 'Reason (shown to the applicant)', control: reason })],
        confirmLabel: 'Reject application',
        danger: true,
        onConfirm: async () => {
          await ctx.api.post<Application>(`/v1/admin/trial/applications/${enc(a.id)}/reject`, { reason: reason.value.trim() });
        },
      }).then(async (ok) => {
        if (ok) {
          announce(`Rejected ${a.address}.`);
          await busy(null, errors, load);
        }
      });
    });
    return form;
  }

  async function load(): Promise<void> {
    const page = await ctx.api.get<Page<Application>>(`/v1/admin/trial/applications?limit=100&status=${enc(filter.value)}`);
    replace(
      list,
      page.data.length === 0
        ? h('p', { class: 'empty' }, `No ${filter.value} applications.`)
        : h('div', { class: 'applications' }, ...page.data.map(card)),
    );
  }

  const refresh = h('button', { type: 'button' }, 'Refresh');
  refresh.addEventListener('click', () => void busy(refresh, errors, load));
  void busy(null, errors, load);
  return section(
    'Free-trial applications',
    h('div', { class: 'toolbar' }, field({ label: 'Show', control: filter }), refresh),
    errors.el,
    list,
  );
}

function creditsSection(ctx: Ctx, onChanged: () => void): HTMLElement {
  const errors = errorBox();
  const address = h('input', {
    name: 'address',
    required: true,
    pattern: '0x[0-9a-fA-F]{40}',
    autocomplete: 'off',
    spellcheck: 'false',
    placeholder: '0x…',
  });
  const delta = h('input', { name: 'delta', type: 'number', step: 1, required: true, inputmode: 'numeric' });
  const reason = h('input', { name: 'reason', required: true, maxlength: 500 });
  const submit = h('button', { type: 'submit' }, 'Change credits');
  const result = h('p', { role: 'status' });
  const form = h(
    'form',
    { class: 'inline-form' },
    field({ label: 'Account address', control: address }),
    field({ label: 'Change (+/-)', control: delta, hint: 'Negative to deduct; the balance never goes below zero.' }),
    field({ label: 'Reason', control: reason }),
    h('div', { class: 'actions' }, submit),
  );
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    void busy(submit, errors, async () => {
      const acc = await ctx.api.post<Account>(`/v1/admin/accounts/${enc(address.value.trim())}/credits`, {
        delta: Number(delta.value),
        reason: reason.value.trim(),
      });
      result.textContent = `${acc.address} now has ${fmtInt(acc.credits)} credits.`;
      onChanged();
    });
  });
  return section('Adjust credits', form, errors.el, result);
}

export function adminPanel(ctx: Ctx, onChanged: () => void): HTMLElement {
  const id = uid('admin');
  return h(
    'div',
    { class: 'stack', id },
    adminOverview(ctx),
    applicationsSection(ctx, onChanged),
    auditPanel(ctx, { title: 'Audit log (all accounts)', path: '/v1/admin/audit', showActor: true }),
    creditsSection(ctx, onChanged),
  );
}
