export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 99 };

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

/** API keys and domain tokens ({prefix}_{dev|net|dom}_...) and compact JWTs (session tokens). */
const SECRET_SHAPES = /([a-z][a-z0-9]{0,15}_(?:dev|net|dom)_)[0-9A-Za-z]{8,}|eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/g;

/**
 * Masks anything shaped like a secret. Why: callers never log secrets on purpose, but request paths
 * and error messages carry what clients send, and clients paste keys and tokens into URLs.
 */
export function redactSecrets(text: string): string {
  // Most lines hold no secret; plain substring scans are several times cheaper than the regex.
  if (!text.includes('_dev_') && !text.includes('_net_') && !text.includes('_dom_') && !text.includes('eyJ')) return text;
  return text.replace(SECRET_SHAPES, (_m, head: string | undefined) => (head ? `${head}[redacted]` : '[redacted-jwt]'));
}

/** One JSON object per line, secrets masked. Callers never pass secrets; fields are data, not format strings. */
export function createLogger(level: LogLevel, write: (line: string) => void = (l) => console.log(l)): Logger {
  const min = ORDER[level];
  const emit = (lvl: LogLevel, msg: string, fields?: Record<string, unknown>): void => {
    if (ORDER[lvl] < min) return;
    write(redactSecrets(JSON.stringify({ time: new Date().toISOString(), level: lvl, msg, ...fields })));
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
  };
}
