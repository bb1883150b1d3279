import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createLogger } from '../logger.js';
import { GATEWAY_USAGE, GatewayConfigError, parseGatewayArgs, type GatewayConfig } from './config.js';
import { createGateway, type Gateway, type GatewayOptions } from './gateway.js';
import { parsePricing, PricingError, type Pricing } from './pricing.js';

export interface RunningGateway {
  gateway: Gateway;
  server: Server;
  url: string;
  /** Stops listening, waits up to drainMs for open answers, then up to drainMs for queued usage reports. */
  close(drainMs?: number): Promise<void>;
}

/** Listens on host:port (0 picks a free port); resolves once bound. */
export async function startGatewayServer(options: GatewayOptions & { port: number; host: string }): Promise<RunningGateway> {
  const gateway = createGateway(options);
  const server = createServer(gateway.handle);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : options.port;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  return {
    gateway,
    server,
    url: `http://${host}:${port}`,
    close: async (drainMs = 10_000) => {
      // Stop accepting, let answers in flight (long SSE streams) finish for up to drainMs, then cut them.
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const deadline = new Promise<void>((r) => setTimeout(r, drainMs).unref());
      await Promise.race([closed, deadline]);
      server.closeAllConnections();
      await closed;
      // then the usage reports of those answers
      await Promise.race([gateway.drain(), new Promise<void>((r) => setTimeout(r, drainMs).unref())]);
      await gateway.close();
    },
  };
}

export function loadPricing(config: GatewayConfig): Pricing {
  let file: unknown;
  if (config.pricingFile) {
    let text: string;
    try {
      text = readFileSync(config.pricingFile, 'utf8');
    } catch (err) {
      throw new PricingError(
        `invalid configuration: --pricing / GATEWAY_PRICING: cannot read ${config.pricingFile} (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
      );
    }
    try {
      file = JSON.parse(text);
    } catch {
      throw new PricingError(`invalid configuration: --pricing / GATEWAY_PRICING: ${config.pricingFile} is not valid JSON`);
    }
  }
  return parsePricing(file, config.defaultPrice);
}

/**
 * Log lines for stderr, written together once per turn of the event loop (one write for many requests
 * under load, instead of a write per line); `flush` writes what is pending at once (before exiting).
 */
export function bufferedLineWriter(write: (text: string) => void): { line: (l: string) => void; flush: () => void } {
  let pending: string[] = [];
  let scheduled = false;
  const flush = (): void => {
    scheduled = false;
    if (!pending.length) return;
    const text = `${pending.join('\n')}\n`;
    pending = [];
    write(text);
  };
  return {
    line: (l) => {
      pending.push(l);
      if (pending.length >= 256) flush();
      else if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    },
    flush,
  };
}

/** `siwe-keys gateway ...` and `npm run gateway -- ...`: returns an exit code, or -1 while serving. */
export async function runGatewayCommand(argv: string[], env: Record<string, string | undefined>): Promise<number> {
  let config: GatewayConfig;
  let pricing: Pricing;
  try {
    const parsed = parseGatewayArgs(argv, env);
    if (parsed.help) {
      console.log(GATEWAY_USAGE);
      return 0;
    }
    config = parsed.config;
    pricing = loadPricing(config);
  } catch (err) {
    if (err instanceof GatewayConfigError || err instanceof PricingError) {
      console.error(err.message);
      return 2;
    }
    throw err;
  }
  const stderr = bufferedLineWriter((text) => process.stderr.write(text));
  const logger = createLogger(config.logLevel, stderr.line);
  const { parseWorkers, serveWithWorkers } = await import('../cluster.js');
  await serveWithWorkers({
    workers: parseWorkers(config.workers, '--workers / GATEWAY_WORKERS'),
    start: async () => {
      const running = await startGatewayServer({
        serviceUrl: config.serviceUrl,
        upstream: config.upstream,
        domainToken: config.domainToken,
        upstreamKey: config.upstreamKey,
        pricing,
        logger,
        cacheTtlSeconds: config.cacheTtlSeconds,
        verifyTimeoutMs: config.verifyTimeoutMs,
        maxBodyBytes: config.maxBodyBytes,
        includeStreamUsage: config.includeStreamUsage,
        port: config.port,
        host: config.host,
      });
      return {
        url: running.url,
        close: async (drainMs) => {
          await running.close(drainMs);
          stderr.flush();
        },
      };
    },
    onListening: (url) => {
      // Never the token or the upstream key: only where requests go.
      logger.info('gateway started', {
        service: new URL(config.serviceUrl).origin,
        upstream: new URL(config.upstream).origin,
        priced_models: Object.keys(pricing.models).length,
        cache_ttl_s: config.cacheTtlSeconds,
      });
      // Lines logged so far (the workers' "listening") go out before the line supervisors wait for.
      stderr.flush();
      console.log(`listening on ${url}`);
    },
    drainMs: 10_000,
    log: (line) => logger.info(line),
  });
  return -1;
}
