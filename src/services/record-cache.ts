import type { Kysely } from 'kysely';
import { onRecordsChanged, type RecordChange } from '../db/record-changes.js';
import type { Database, DomainRow } from '../db/schema.js';

/**
 * The slow-changing part of a key as verification needs it: never balances, windows or counters
 * (those are read or written in the database whenever an answer depends on them).
 */
export interface KeyRecord {
  id: string;
  account: string;
  type: 'developer' | 'network';
  status: 'active' | 'disabled';
  scopes: string[];
  models: string[] | null;
  rpm: number | null;
  daily_credits: number | null;
  monthly_credits: number | null;
  expires_at: number | null;
  plan: 'network' | 'developer';
  /** Whether the account has a prepaid balance (credits not NULL); the balance itself is never cached. */
  creditsEnforced: boolean;
  /** Set when this entry is a rotated-out secret: it verifies until then. */
  prevUntil: number | null;
  /** domain id -> when this instance last recorded that the domain verified the key. */
  verifiedBy: Map<string, number>;
}

export interface RecordCacheOptions {
  maxKeys?: number;
  maxDomains?: number;
  maxNegative?: number;
  /** Backstop: an entry is re-read after this long even if no change reached this instance. */
  ttlMs?: number;
  /** "No such key / token" answers are remembered this long (and dropped whenever one is created). */
  negativeTtlMs?: number;
  /**
   * A counter that moves when another process wrote the database (SQLite's PRAGMA data_version):
   * checked on every lookup, and everything is dropped when it moved.
   */
  changeCounter?: () => number;
}

interface Entry<T> {
  value: T;
  until: number;
}

/**
 * In-memory records for the verification hot path (Node only: Workers isolates run without it).
 * Every write site on this instance invalidates through `recordsChanged` (src/db/record-changes.ts);
 * other writers are seen through `changeCounter` (SQLite) or NOTIFY (PostgreSQL, src/db/pg-listen.ts).
 *
 * Races: a lookup reads `gen` before its database read and stores the row only if no invalidation
 * happened meanwhile, so a row read before a write can never be stored after that write's invalidation.
 */
export class RecordCache {
  /** Moves on every invalidation. */
  gen = 0;
  private enabled = true;
  private readonly keys = new Map<string, Entry<KeyRecord>>();
  private readonly hashesById = new Map<string, Set<string>>();
  private readonly missingKeys = new Map<string, number>();
  private readonly domains = new Map<string, Entry<DomainRow>>();
  private readonly missingDomains = new Map<string, number>();
  private version: number | undefined;
  private readonly maxKeys: number;
  private readonly maxDomains: number;
  private readonly maxNegative: number;
  private readonly ttlMs: number;
  private readonly negativeTtlMs: number;
  private readonly changeCounter: (() => number) | undefined;

  constructor(opts: RecordCacheOptions = {}) {
    this.maxKeys = opts.maxKeys ?? 100_000;
    this.maxDomains = opts.maxDomains ?? 20_000;
    this.maxNegative = opts.maxNegative ?? 10_000;
    this.ttlMs = opts.ttlMs ?? 30_000;
    this.negativeTtlMs = opts.negativeTtlMs ?? 5_000;
    this.changeCounter = opts.changeCounter;
    this.version = this.changeCounter?.();
  }

  /** Subscribes to the writes made through this database handle on this instance. */
  attach(db: Kysely<Database>): () => void {
    return onRecordsChanged(db, (c) => this.apply(c));
  }

  get size(): { keys: number; domains: number; negative: number } {
    return { keys: this.keys.size, domains: this.domains.size, negative: this.missingKeys.size + this.missingDomains.size };
  }

  /** False while changes from other instances cannot reach this one (listener down): bypass. */
  get active(): boolean {
    return this.enabled;
  }

  setEnabled(on: boolean): void {
    this.flush();
    this.enabled = on;
  }

  private checkedThisTurn = false;
  private readonly endTurn = (): void => {
    this.checkedThisTurn = false;
  };

  /**
   * At most once per timer tick (~1 ms): the counter is a statement, several microseconds on a WAL
   * file (a read lock), too dear to run per lookup under load. A write from another process is
   * seen by every lookup that starts a tick or more after it committed.
   */
  private checkExternal(): void {
    if (!this.changeCounter || this.checkedThisTurn) return;
    this.checkedThisTurn = true;
    setTimeout(this.endTurn, 0);
    const v = this.changeCounter();
    if (v !== this.version) {
      this.version = v;
      this.flush();
    }
  }

  /** A record, null for a remembered "no such key", undefined when unknown (read the database). */
  getKey(hash: string): KeyRecord | null | undefined {
    return this.lookup(this.keys, this.missingKeys, hash, this.dropKeyEntry);
  }

  putKey(hash: string, rec: KeyRecord | null, gen: number): void {
    if (!this.store(this.keys, this.missingKeys, this.maxKeys, hash, rec, gen, this.dropKeyEntry) || rec === null) return;
    let set = this.hashesById.get(rec.id);
    if (!set) this.hashesById.set(rec.id, (set = new Set()));
    set.add(hash);
  }

  getDomain(hash: string): DomainRow | null | undefined {
    return this.lookup(this.domains, this.missingDomains, hash, this.dropDomainEntry);
  }

  putDomain(hash: string, row: DomainRow | null, gen: number): void {
    this.store(this.domains, this.missingDomains, this.maxDomains, hash, row, gen, this.dropDomainEntry);
  }

  /** Drops what a write changed. */
  apply(c: RecordChange): void {
    this.gen++;
    if ('key' in c) {
      for (const hash of this.hashesById.get(c.key) ?? []) this.keys.delete(hash);
      this.hashesById.delete(c.key);
    } else if ('account' in c) {
      // Account changes (plan, credits becoming enforced) are rare: a scan is fine.
      for (const [hash, e] of this.keys) if (e.value.account === c.account) this.dropKeyHash(hash, e.value.id);
    } else if ('domain' in c) {
      for (const [hash, e] of this.domains) if (e.value.id === c.domain) this.domains.delete(hash);
    } else {
      this.missingKeys.clear();
      this.missingDomains.clear();
    }
  }

  /** Drops everything (another process wrote, the listener reconnected). */
  flush(): void {
    this.gen++;
    this.keys.clear();
    this.hashesById.clear();
    this.missingKeys.clear();
    this.domains.clear();
    this.missingDomains.clear();
  }

  /**
   * The one lookup of keys and domains. Both maps hold entries of one shape, so the property reads
   * stay monomorphic; `drop` (bound once, below) runs only for an expired entry.
   */
  private lookup<T>(
    live: Map<string, Entry<T>>,
    missing: Map<string, number>,
    hash: string,
    drop: (hash: string, e: Entry<T>) => void,
  ): T | null | undefined {
    if (!this.enabled) return undefined;
    this.checkExternal();
    const now = Date.now();
    const e = live.get(hash);
    if (e) {
      if (e.until <= now) {
        drop(hash, e);
        return undefined;
      }
      // Least recently used goes first: re-inserting moves the entry to the end.
      live.delete(hash);
      live.set(hash, e);
      return e.value;
    }
    const miss = missing.get(hash);
    if (miss !== undefined) {
      if (miss > now) return null;
      missing.delete(hash);
    }
    return undefined;
  }

  /**
   * The one store of keys and domains (after a database read): a record, or a remembered miss, unless
   * an invalidation happened since `gen` was read; the least recently used entry makes room. True
   * when a record was stored.
   */
  private store<T>(
    live: Map<string, Entry<T>>,
    missing: Map<string, number>,
    max: number,
    hash: string,
    value: T | null,
    gen: number,
    drop: (hash: string, e: Entry<T>) => void,
  ): boolean {
    if (!this.enabled || gen !== this.gen) return false;
    const now = Date.now();
    if (value === null) {
      remember(missing, hash, now + this.negativeTtlMs, this.maxNegative);
      return false;
    }
    if (live.size >= max && !live.has(hash)) {
      const [oldest, e] = live.entries().next().value as [string, Entry<T>];
      drop(oldest, e);
    }
    live.set(hash, { value, until: now + this.ttlMs });
    return true;
  }

  private readonly dropKeyEntry = (hash: string, e: Entry<KeyRecord>): void => this.dropKeyHash(hash, e.value.id);
  private readonly dropDomainEntry = (hash: string): void => {
    this.domains.delete(hash);
  };

  private dropKeyHash(hash: string, id: string): void {
    this.keys.delete(hash);
    const set = this.hashesById.get(id);
    set?.delete(hash);
    if (set?.size === 0) this.hashesById.delete(id);
  }
}

function remember(map: Map<string, number>, hash: string, until: number, max: number): void {
  if (map.size >= max && !map.has(hash)) map.delete(map.keys().next().value as string);
  map.set(hash, until);
}
