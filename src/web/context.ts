import type { Api } from '../../packages/web/src/index.js';
import type { Account, ConsoleConfig } from './types.js';

/** What every panel gets from the page. */
export interface Ctx {
  api: Api;
  config: ConsoleConfig;
  account(): Account;
  /** Re-reads /v1/me (plan, credits, trial) and refreshes the header. */
  refreshAccount(): Promise<Account>;
}
