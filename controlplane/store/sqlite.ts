/**
 * The embedded store: a kine-style revisioned log in one SQLite file.
 *
 * Contract (beyond `Store`):
 * - One process owns a data file (`<path>.lock`); a second open fails with StoreLockedError.
 * - Writes are group-committed: all writes submitted in one event-loop turn are
 *   applied in submission order inside one transaction, each CAS checked against
 *   the state left by the writes before it, and every promise settles after the
 *   COMMIT returned. With synchronous=FULL (default) that COMMIT fsynced the WAL.
 * - Watch events are published synchronously right after the COMMIT and before
 *   the writers' promises resolve: when a write resolves, every open watcher
 *   matching its key already holds its event (or was closed as slow).
 * - Reads see committed state only; the revision a read reports is the last
 *   committed one.
 */

import fs from 'node:fs';
import path from 'node:path';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { logger } from '../../common/log.js';
import { GroupCommit } from './groupcommit.js';
import { acquireLock } from './lockfile.js';
import type { FileLock } from './lockfile.js';
import { LogQueries, prepareStatements } from './queries.js';
import { DDL, SCHEMA_VERSION, rowToEvent, rowToKv } from './schema.js';
import type { LogRow } from './schema.js';
import { CompactedError, FutureRevisionError, StoreClosedError } from './types.js';
import type {
  DeleteResult,
  KeyValue,
  ListOptions,
  ListResult,
  Store,
  Watch,
  WatchEvent,
  WatchOptions,
  WriteResult,
} from './types.js';
import { WatchHub } from './watchhub.js';
import type { ReplaySource } from './watchhub.js';

export interface SqliteStoreOptions {
  /**
   * 'full' (default): every commit fsyncs the WAL, so a resolved write survives
   * power loss. 'normal': the WAL is fsynced only at checkpoints; a resolved
   * write survives a process crash (kill -9) but the last commits may be lost
   * on power loss or kernel crash. See docs/store.md for the measured cost.
   */
  synchronous?: 'full' | 'normal';
  /** Most writes committed in one transaction. Default 1000. */
  maxBatch?: number;
  /** Revisions compacted per transaction, so compaction never holds the event loop long. Default 1000. */
  compactChunk?: number;
}

export interface CompactorOptions {
  intervalMs: number;
  /** History kept: each run compacts up to currentRevision - keepRevisions. */
  keepRevisions: number;
}

type WriteOp =
  | { kind: 'create'; key: string; value: string }
  | { kind: 'update'; key: string; value: string; expected: number }
  | { kind: 'delete'; key: string; expected: number | undefined };

type WriteOutcome = WriteResult | DeleteResult;

const log = logger('store');

export class SqliteStore implements Store {
  /** Last committed revision; every event up to it has been published. */
  private rev: number;
  private compacted: number;
  private closed = false;
  private readonly hub = new WatchHub(() => this.rev);
  private readonly writes: GroupCommit<WriteOp, WriteOutcome>;
  private readonly compactors = new Set<() => void>();
  private compactChain: Promise<void> = Promise.resolve();
  private readonly q: LogQueries;
  private readonly compactChunk: number;
  private readonly s: ReturnType<typeof prepareStatements>;

  private constructor(
    private readonly db: Database.Database,
    private readonly lock: FileLock | undefined,
    opts: SqliteStoreOptions,
  ) {
    this.s = prepareStatements(db);
    this.q = new LogQueries(db);
    // AUTOINCREMENT's high-water mark survives compaction of the newest rows.
    const seq = db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'kv'").pluck().get() as number | undefined;
    const maxId = db.prepare('SELECT MAX(id) FROM kv').pluck().get() as number | null;
    this.rev = Math.max(seq ?? 0, maxId ?? 0);
    this.compacted = (this.s.metaGet.get('compacted') as number | undefined) ?? 0;
    this.compactChunk = opts.compactChunk ?? 1000;
    const applyTxn = db.transaction((ops: readonly WriteOp[], events: WatchEvent[]) => {
      let rev = this.rev;
      const results = ops.map((op) => this.applyOne(op, () => ++rev, events));
      return { results, rev };
    });
    this.writes = new GroupCommit<WriteOp, WriteOutcome>((ops) => {
      const events: WatchEvent[] = [];
      const { results, rev } = applyTxn(ops, events);
      // Committed. Publish before the writers' promises resolve, in the same
      // synchronous block, so a watch registered later replays up to `rev`
      // from the log and never sees a committed-but-unpublished batch.
      this.rev = rev;
      try {
        this.hub.publish(events);
      } catch (err) {
        // The batch is committed and must be reported so. A watcher may now
        // have missed an event: end them all so clients re-list and re-watch.
        log.error({ err }, 'watch fan-out failed; closing all watches');
        this.hub.closeAll('closed');
      }
      return results;
    }, opts.maxBatch ?? 1000);
  }

  /**
   * Opens (creating if needed) the store at `file`, or an in-memory one for
   * ':memory:'. Throws StoreLockedError if another live process has it open.
   */
  static open(file: string, opts: SqliteStoreOptions = {}): SqliteStore {
    const memory = file === ':memory:';
    if (!memory) fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true, mode: 0o700 });
    const lock = memory ? undefined : acquireLock(file);
    let db: Database.Database | undefined;
    try {
      db = new Database(file);
      // WAL: a commit appends to one file (one fsync), readers never block the writer.
      if (!memory) db.pragma('journal_mode = WAL');
      db.pragma(`synchronous = ${opts.synchronous === 'normal' ? 'NORMAL' : 'FULL'}`);
      db.exec(DDL);
      const version = db.prepare("SELECT value FROM meta WHERE key = 'schema_version'").pluck().get() as number | undefined;
      if (version === undefined) {
        db.prepare("INSERT INTO meta (key, value) VALUES ('schema_version', ?)").run(SCHEMA_VERSION);
      } else if (version !== SCHEMA_VERSION) {
        throw new Error(`store ${file}: schema version ${version}, this build reads ${SCHEMA_VERSION}`);
      }
      return new SqliteStore(db, lock, opts);
    } catch (err) {
      db?.close();
      lock?.release();
      throw err;
    }
  }

  // ---- writes -------------------------------------------------------------

  async create(key: string, value: string): Promise<WriteResult> {
    this.assertOpen();
    return (await this.writes.submit({ kind: 'create', key, value })) as WriteResult;
  }

  async update(key: string, value: string, expectedModRevision: number): Promise<WriteResult> {
    this.assertOpen();
    return (await this.writes.submit({ kind: 'update', key, value, expected: expectedModRevision })) as WriteResult;
  }

  async delete(key: string, expectedModRevision?: number): Promise<DeleteResult> {
    this.assertOpen();
    return (await this.writes.submit({ kind: 'delete', key, expected: expectedModRevision })) as DeleteResult;
  }

  /** One write inside the batch transaction: check, append the log row, keep `current` in step. */
  private applyOne(op: WriteOp, nextRev: () => number, events: WatchEvent[]): WriteOutcome {
    const latest = this.s.latest.get(op.key) as LogRow | undefined;
    const live = latest && !latest.deleted ? latest : undefined;
    let row: LogRow;
    switch (op.kind) {
      case 'create': {
        if (live) return { ok: false, reason: 'exists', current: rowToKv(live) };
        const id = nextRev();
        // prev_revision chains to the tombstone, so two racing re-creates collide on UNIQUE(name, prev_revision).
        const prev = latest?.id ?? 0;
        row = logRow(id, op.key, { created: 1, createRevision: id, prev, value: op.value });
        break;
      }
      case 'update': {
        if (!live) return { ok: false, reason: 'missing' };
        if (live.id !== op.expected) return { ok: false, reason: 'conflict', current: rowToKv(live) };
        const opt = { createRevision: live.create_revision, prev: live.id, value: op.value, oldValue: live.value };
        row = logRow(nextRev(), op.key, opt);
        break;
      }
      case 'delete': {
        if (!live) return { ok: false, reason: 'missing' };
        if (op.expected !== undefined && live.id !== op.expected) {
          return { ok: false, reason: 'conflict', current: rowToKv(live) };
        }
        // A tombstone keeps the deleted value: the delete event carries it.
        const opt = { deleted: 1, createRevision: live.create_revision, prev: live.id, value: live.value };
        row = logRow(nextRev(), op.key, opt);
        break;
      }
    }
    // No try/catch for UNIQUE(name, prev_revision): this process is the only
    // writer (lock file) and checked `latest` in this transaction, so a
    // violation means the file was changed behind our back; failing the whole
    // batch is the right answer then.
    this.s.insert.run(row);
    if (row.deleted) this.s.dropCurrent.run(row.name);
    else this.s.setCurrent.run(row.name, row.id);
    events.push(rowToEvent(row));
    if (op.kind === 'delete') return { ok: true, revision: row.id, prev: rowToKv(live as LogRow) };
    return { ok: true, revision: row.id, kv: rowToKv(row) };
  }

  // ---- reads --------------------------------------------------------------

  async currentRevision(): Promise<number> {
    this.assertOpen();
    return this.rev;
  }

  async compactedRevision(): Promise<number> {
    this.assertOpen();
    return this.compacted;
  }

  async get(key: string): Promise<KeyValue | undefined> {
    this.assertOpen();
    const row = this.s.getLive.get(key) as LogRow | undefined;
    return row ? rowToKv(row) : undefined;
  }

  async count(prefix: string): Promise<number> {
    this.assertOpen();
    return this.q.countLatest(prefix, undefined);
  }

  /**
   * Keys starting with `prefix` in key order (UTF-8 byte order). At the latest
   * revision it reads the `current` table; at an older one it takes the newest
   * row at or below that revision per key from the log.
   */
  async list(prefix: string, opts: ListOptions = {}): Promise<ListResult> {
    this.assertOpen();
    const requested = opts.revision ?? 0;
    assertRevision('revision', requested);
    const limit = opts.limit && opts.limit > 0 ? opts.limit : -1;
    if (requested > this.rev) throw new FutureRevisionError(requested, this.rev);
    if (requested > 0 && requested <= this.compacted) throw new CompactedError(requested, this.compacted);
    const latest = requested === 0 || requested === this.rev;
    const revision = latest ? this.rev : requested;
    const rows = latest
      ? this.q.rowsLatest(prefix, opts.startAfter, limit)
      : this.q.rowsAt(revision, prefix, opts.startAfter, limit);
    const items = rows.map(rowToKv);
    const last = items[items.length - 1];
    let remaining = 0;
    if (limit > 0 && items.length === limit && last) {
      remaining = latest ? this.q.countLatest(prefix, last.key) : this.q.countAt(revision, prefix, last.key);
    }
    return { items, revision, remaining };
  }

  // ---- watch --------------------------------------------------------------

  /**
   * Opens a watch for keys starting with `prefix`, delivering every event with
   * revision > afterRevision in revision order. Rejects with CompactedError if
   * afterRevision < compactedRevision. Events already in the log are replayed
   * from it; no gap and no duplicate between replay and live events.
   */
  async watch(prefix: string, opts: WatchOptions): Promise<Watch> {
    this.assertOpen();
    assertRevision('afterRevision', opts.afterRevision);
    if (opts.afterRevision < this.compacted) throw new CompactedError(opts.afterRevision, this.compacted);
    // No await between reading this.rev and registering: no batch can be
    // published in between (see the publish in the constructor).
    return this.hub.open({
      prefix,
      afterRevision: opts.afterRevision,
      bufferSize: opts.bufferSize ?? 1000,
      replayUpTo: this.rev,
      replay: this.replay,
      signal: opts.signal,
    });
  }

  private readonly replay: ReplaySource = (prefix, after, upTo, limit) => {
    if (this.closed) throw new StoreClosedError();
    if (after < this.compacted) throw new CompactedError(after, this.compacted);
    return this.q.events(prefix, after, upTo, limit).map(rowToEvent);
  };

  // ---- compaction ---------------------------------------------------------

  /**
   * Deletes history at and below `revision`: rows superseded by a newer row of
   * the same key at or below it, and tombstones at or below it. Latest values
   * of live keys are kept. Idempotent; calls are serialized; a revision at or
   * below the current compacted one is a no-op. Runs in chunks of
   * `compactChunk` revisions, each its own transaction that also persists the
   * new compacted revision, yielding to the event loop between chunks.
   */
  compact(revision: number): Promise<void> {
    const run = async (): Promise<void> => {
      this.assertOpen();
      assertRevision('revision', revision);
      if (revision > this.rev) throw new FutureRevisionError(revision, this.rev);
      const chunk = this.db.transaction((from: number, to: number) => {
        this.s.compactSuperseded.run(from, to);
        this.s.compactTombstones.run(from, to);
        this.s.metaSet.run('compacted', to);
      });
      while (!this.closed && this.compacted < revision) {
        const to = Math.min(revision, this.compacted + this.compactChunk);
        chunk(this.compacted, to);
        this.compacted = to;
        if (to < revision) await yieldToLoop();
      }
    };
    const p = this.compactChain.then(run);
    this.compactChain = p.catch(() => undefined);
    return p;
  }

  /**
   * Compacts every `intervalMs` up to currentRevision - keepRevisions. The timer
   * does not keep the process alive. Returns the stop function (idempotent);
   * close() stops it too.
   */
  startCompactor(opts: CompactorOptions): () => void {
    const timer = setInterval(() => {
      const target = this.rev - opts.keepRevisions;
      if (this.closed || target <= this.compacted) return;
      this.compact(target).catch((err: unknown) => {
        if (!(err instanceof StoreClosedError)) log.error({ err }, 'compaction failed');
      });
    }, opts.intervalMs);
    timer.unref();
    const stop = (): void => {
      clearInterval(timer);
      this.compactors.delete(stop);
    };
    this.compactors.add(stop);
    return stop;
  }

  // ---- lifecycle ----------------------------------------------------------

  /**
   * Commits writes already submitted, ends every watch with 'store-closed',
   * stops compactors, closes the database and releases the lock. Idempotent;
   * later calls reject with StoreClosedError.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.writes.flush();
    this.closed = true;
    for (const stop of [...this.compactors]) stop();
    this.hub.closeAll('store-closed');
    this.db.close();
    this.lock?.release();
  }

  /** Open watches (for metrics and tests). */
  get watcherCount(): number {
    return this.hub.size;
  }

  private assertOpen(): void {
    if (this.closed) throw new StoreClosedError();
  }
}

function logRow(
  id: number,
  name: string,
  f: { created?: number; deleted?: number; createRevision: number; prev: number; value: string; oldValue?: string },
): LogRow {
  return {
    id,
    name,
    created: f.created ?? 0,
    deleted: f.deleted ?? 0,
    create_revision: f.createRevision,
    prev_revision: f.prev,
    value: f.value,
    old_value: f.oldValue ?? null,
  };
}

function assertRevision(what: string, rev: number): void {
  if (!Number.isSafeInteger(rev) || rev < 0) throw new RangeError(`${what} must be a non-negative integer, got ${rev}`);
}
