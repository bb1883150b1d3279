import { ApiError } from '../../../packages/web/src/index.js';
import type { Ctx } from '../context.js';
import { type Child, h, replace } from '../dom.js';
import type { Application } from '../types.js';
import { announce, badge, busy, errorBox, field, fmtInt, fmtTime, section } from '../ui.js';

export function trialPanel(ctx: Ctx, onChanged: () => void): HTMLElement {
  const errors = errorBox();
  const body = h('div', { 'aria-live': 'polite' }, h('p', null, 'Loading…'));

  async function mine(): Promise<Application | null> {
    try {
      return await ctx.api.get<Application>('/v1/trial/applications/mine');
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) return null;
      throw err;
    }
  }

  function applyForm(previous: Application | null): HTMLElement {
    const useCase = h('textarea', { name: 'use_case', required: true, rows: 4, maxlength: 2000 });
    const contact = h('input', { name: 'contact', maxlength: 200, autocomplete: 'email' });
    const submit = h('button', { type: 'submit', class: 'primary' }, 'Apply for the free trial');
    const form = h(
      'form',
      { class: 'stack', 'data-form': 'trial' },
      previous?.status === 'rejected'
        ? h(
            'p',
            { class: 'notice' },
            'Your previous application was declined',
            previous.reason ? `: ${previous.reason}` : '.',
            ' You may apply again.',
          )
        : null,
      h(
        'p',
        null,
        'The free trial turns this account into a developer account with ',
        fmtInt(ctx.config.trial_credits),
        ' credits (an admin may grant a different amount). Developer keys work on the platform’s public domains; afterwards this account can no longer create network keys.',
      ),
      field({ label: 'What will you build?', control: useCase, hint: 'A few sentences help the reviewers.' }),
      field({ label: 'Contact (optional)', control: contact, hint: 'An email or handle for questions about your application.' }),
      h('div', { class: 'actions' }, submit),
    );
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      void busy(submit, errors, async () => {
        const payload: Record<string, string> = { use_case: useCase.value.trim() };
        if (contact.value.trim()) payload.contact = contact.value.trim();
        await ctx.api.post<Application>('/v1/trial/applications', payload);
        announce('Application sent.');
        await load();
      });
    });
    return form;
  }

  async function load(): Promise<void> {
    // The review happens elsewhere (an admin's console), so read the account afresh every time.
    const account = await ctx.refreshAccount();
    onChanged();
    const app = account.trial.status === 'none' ? null : await mine();
    const status = app?.status ?? account.trial.status;
    if (account.plan === 'developer' || status === 'approved') {
      replace(
        body,
        h(
          'p',
          { 'data-trial-status': 'approved' },
          badge('approved', 'ok'),
          ' Your account has the ',
          h('strong', null, 'developer'),
          ' plan.',
        ),
        h(
          'dl',
          { class: 'facts' },
          h('dt', null, 'Credits left'),
          h('dd', { 'data-testid': 'trial-credits' }, fmtInt(account.credits)),
          h('dt', null, 'Granted'),
          h('dd', null, fmtInt(app?.credits_granted ?? account.trial.credits_granted)),
          h('dt', null, 'Key type'),
          h('dd', null, 'developer (public domains)'),
          h('dt', null, 'Approved'),
          h('dd', null, fmtTime(app?.reviewed_at ?? account.trial.reviewed_at)),
        ),
      );
      return;
    }
    if (status === 'pending' && app) {
      replace(
        body,
        h('p', { 'data-trial-status': 'pending' }, badge('pending'), ' Your application is waiting for review.'),
        applicationFacts(app),
      );
      return;
    }
    replace(body, applyForm(app && app.status === 'rejected' ? app : null));
  }

  const refresh = h('button', { type: 'button' }, 'Refresh status');
  refresh.addEventListener('click', () => void busy(refresh, errors, load));
  void busy(null, errors, load);
  return section('Free trial', errors.el, body, h('div', { class: 'toolbar' }, refresh));
}

/** What an application says (sent, use case, contact), then `more` (the review, on the admin's card). */
export function applicationFacts(a: Application, ...more: Child[]): HTMLElement {
  return h(
    'dl',
    { class: 'facts' },
    h('dt', null, 'Sent'),
    h('dd', null, fmtTime(a.created_at)),
    h('dt', null, 'Use case'),
    h('dd', { class: 'pre' }, a.use_case),
    a.contact ? [h('dt', null, 'Contact'), h('dd', null, a.contact)] : null,
    ...more,
  );
}
