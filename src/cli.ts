import { ConfigError, loadConfig } from './config.js';
import { migrateToLatest } from './db/migrate.js';
import { openDatabase, startNodeServer } from './node.js';

const USAGE = `usage: siwe-keys <command>

commands:
  serve                 run the HTTP service (migrates the database first)
  migrate               apply pending database migrations
  gateway [flags]       run the OpenAI-compatible gateway in front of an inference server (--help)
`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'serve':
    case undefined: {
      const config = loadConfig(process.env);
      const svc = await startNodeServer(config);
      console.log(`listening on ${svc.url}`);
      const stop = (): void => {
        void svc.close().then(() => process.exit(0));
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
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
      // Loaded on demand: the gateway needs none of the service's database code.
      const { runGatewayCommand } = await import('./gateway/node.js');
      return runGatewayCommand(rest, process.env);
    }
    case 'help':
    case '--help':
    case '-h':
      console.log(USAGE);
      return 0;
    default:
      void rest;
      console.error(`unknown command: ${command}\n${USAGE}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (err: unknown) => {
    console.error(err instanceof ConfigError ? err.message : `error: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
