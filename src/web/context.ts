import type { Api, TeamView } from '../../packages/web/src/index.js';
import type { Account, ConsoleConfig } from './types.js';

/** What every panel gets from the page. */
export interface Ctx {
  api: Api;
  config: ConsoleConfig;
  account(): Account;
  /** Re-reads /v1/me (plan, credits, trial) and refreshes the header. */
  refreshAccount(): Promise<Account>;
  /** The team chosen in the header's switcher (the views are scoped to it), or null for the personal account. */
  team(): TeamView | null;
  /** Re-reads the caller's teams; switches back to the personal account if the chosen team is gone. */
  refreshTeams(): Promise<void>;
  /** Chooses the personal account (null) or one of the caller's teams. */
  selectTeam(id: string | null, tab?: string): void;
}

/** `&team_id=…` (or `?team_id=…` when `first`) for the chosen team; empty for the personal account. */
export function teamParam(ctx: Ctx, first = false): string {
  const t = ctx.team();
  return t ? `${first ? '?' : '&'}team_id=${encodeURIComponent(t.id)}` : '';
}
