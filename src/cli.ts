import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from './config.js';
import { migrateToLatest } from './db/migrate.js';
import { AppError } from './errors.js';
import { parseWorkers, serveWithWorkers, WorkersError } from './cluster.js';
import { openConfiguredDatabase } from './db/open.js';
import type { SystemActor } from './services/actor.js';
import type { TeamsDeps } from './services/teams.js';

// The app (./node.js) and the services load on demand: a cluster primary only migrates and forks,
// so it never loads them and stays small.
const openDatabase = async (config: { databaseUrl: string }) => openConfiguredDatabase(config.databaseUrl);

const USAGE = `usage: siwe-keys <command>

commands:
  serve [--workers N]   run the HTTP service (migrates the database first); --workers (or WORKERS):
                        processes sharing the port, default 1, "auto" = one per core
  migrate               apply pending database migrations
  rotate-signing-key    start signing sessions with a new ES256 key (the old one keeps verifying
                        its tokens until they expire; running instances pick it up within a minute)
  gateway [flags]       run the OpenAI-compatible gateway in front of an inference server (--help)
  admin applications [--status pending|approved|rejected] [--limit N]
                        list free-trial applications (newest first)
  admin approve <id> [--credits N]
                        approve an application (default credits: TRIAL_CREDITS)
  admin reject <id> --reason TEXT
                        reject an application
  admin teams [--limit N]
                        list teams (newest first): id, name, credits, members, invited, creator
  admin team-credits <team id> --delta N --reason TEXT
                        change a team's balance by N (negative: --delta=-N); from unlimited, starts enforcing it

Admin commands work directly on the database named by DATABASE_URL; they are audited with actor "cli".
`;

async function admin(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      status: { type: 'string' },
      limit: { type: 'string' },
      credits: { type: 'string' },
      reason: { type: 'string' },
      delta: { type: 'string' },
    },
  });
  const [sub, id] = positionals;
  const config = loadConfig(process.env);
  const [{ approve, listForAdmin, reject }, { systemActor }, { systemClock }] = await Promise.all([
    import('./services/trial.js'),
    import('./services/actor.js'),
    import('./clock.js'),
  ]);
  const db = await openDatabase(config);
  try {
    await migrateToLatest(db);
    const deps = { db, clock: systemClock, trialCredits: config.trialCredits, adminAddresses: config.adminAddresses };
    const actor = systemActor('cli', 'siwe-keys-cli', `cli_${Date.now()}`);
    if (sub === 'applications') {
      const status = values.status as 'pending' | 'approved' | 'rejected' | undefined;
      if (status && !['pending', 'approved', 'rejected'].includes(status))
        throw new AppError('invalid_request', '--status must be pending, approved or rejected');
      const page = await listForAdmin(deps, actor, { status, limit: Number(values.limit ?? 50) });
      for (const a of page.data) {
        console.log([a.id, a.status, a.address, a.created_at, JSON.stringify(a.use_case)].join('\t'));
      }
      if (page.data.length === 0) console.log('no applications');
      return 0;
    }
    if (sub === 'approve' && id) {
      const credits = values.credits === undefined ? config.trialCredits : Number(values.credits);
      if (!Number.isSafeInteger(credits) || credits < 0) throw new AppError('invalid_request', '--credits must be a non-negative integer');
      const a = await approve(deps, actor, { id, credits });
      console.log(`approved ${a.id} for ${a.address} with ${a.credits_granted} credits`);
      return 0;
    }
    if (sub === 'reject' && id) {
      if (!values.reason) throw new AppError('invalid_request', '--reason is required');
      const a = await reject(deps, actor, { id, reason: values.reason });
      console.log(`rejected ${a.id} for ${a.address}`);
      return 0;
    }
    if (sub === 'teams' || sub === 'team-credits') return await teamsCommand({ db, clock: systemClock }, actor, sub, id, values);
    console.error(USAGE);
    return 2;
  } finally {
    await db.destroy();
  }
}

async function teamsCommand(
  deps: TeamsDeps,
  actor: SystemActor,
  sub: 'teams' | 'team-credits',
  id: string | undefined,
  values: { limit?: string; delta?: string; reason?: string },
): Promise<number> {
  const { changeTeamCredits, listTeamsForAdmin } = await import('./services/teams.js');
  const row = (t: { id: string; name: string; credits: number | null; members: number; invited: number; created_by: string }): string =>
    [t.id, JSON.stringify(t.name), t.credits ?? 'unlimited', `${t.members} members`, `${t.invited} invited`, t.created_by].join('\t');
  if (sub === 'teams') {
    const limit = Number(values.limit ?? 50);
    if (!Number.isSafeInteger(limit) || limit < 1) throw new AppError('invalid_request', '--limit must be a positive integer');
    const page = await listTeamsForAdmin(deps, actor, { limit });
    for (const t of page.data) console.log(row(t));
    if (page.data.length === 0) console.log('no teams');
    return 0;
  }
  const delta = Number(values.delta);
  if (!id || values.delta === undefined || !Number.isSafeInteger(delta) || delta === 0) {
    throw new AppError('invalid_request', 'usage: admin team-credits <team id> --delta N (a non-zero integer) --reason TEXT');
  }
  if (!values.reason?.trim()) throw new AppError('invalid_request', '--reason is required');
  const t = await changeTeamCredits(deps, actor, { id, delta, reason: values.reason.trim() });
  console.log(`team ${t.id} now has ${t.credits} credits`);
  return 0;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'serve':
    case undefined: {
      const { values } = parseArgs({ args: rest, options: { workers: { type: 'string' } } });
      const config = loadConfig(process.env);
      const workers = parseWorkers(values.workers ?? process.env.WORKERS, '--workers / WORKERS');
      await serveWithWorkers({
        workers,
        // Once, before forking, so that the workers find the schema ready (they check, and skip).
        prepare: async () => {
          const db = await openDatabase(config);
          try {
            await migrateToLatest(db);
          } finally {
            await db.destroy();
          }
        },
        start: async () => {
          const { startNodeServer } = await import('./node.js');
          const svc = await startNodeServer(config);
          return { url: svc.url as string, close: (drainMs) => svc.close(drainMs) };
        },
        onListening: (url) => {
          console.log(`listening on ${url}`);
          console.log(`console: ${config.publicUrl.replace(/\/+$/, '')}/ (sign in there: SIWE messages are bound to PUBLIC_URL)`);
        },
        drainMs: Number(process.env.SHUTDOWN_TIMEOUT_MS ?? 10_000),
      });
      return -1; // keep running
    }
    case 'migrate': {
      const config = loadConfig(process.env);
      const db = await openDatabase(config);
      const applied = await migrateToLatest(db);
      await db.destroy();
      console.log(applied.length ? `applied ${applied.join(', ')}` : 'database is up to date');
      return 0;
    }
    case 'gateway': {
      // Loaded on demand, so the other commands never load the proxy.
      const { runGatewayCommand } = await import('./gateway/node.js');
      return runGatewayCommand(rest, process.env);
    }
    case 'admin':
      return admin(rest);
    case 'rotate-signing-key': {
      const config = loadConfig(process.env);
      const db = await openDatabase(config);
      try {
        await migrateToLatest(db);
        const [{ createSessionSigner }, { systemClock }] = await Promise.all([import('./services/sessions.js'), import('./clock.js')]);
        const signer = await createSessionSigner({
          db,
          clock: systemClock,
          issuer: config.issuer,
          audience: config.issuer,
          sessionTtlSeconds: config.sessionTtlSeconds,
          keyEncryptionKey: config.keyEncryptionKey,
        });
        const kid = await signer.rotate();
        console.log(`new session signing key ${kid}; tokens signed by the previous key verify until they expire`);
      } finally {
        await db.destroy();
      }
      return 0;
    }
    case 'help':
    case '--help':
    case '-h':
      console.log(USAGE);
      return 0;
    default:
      console.error(`unknown command: ${command}\n${USAGE}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (err: unknown) => {
    if (err instanceof ConfigError || err instanceof WorkersError) console.error(err.message);
    else if (err instanceof AppError) console.error(`error: ${err.code}: ${err.message}`);
    else console.error(`error: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
