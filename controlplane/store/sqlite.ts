/**
 * The embedded store: a kine-style revisioned log in one SQLite file.
 *
 * Contract (beyond `Store`):
 * - One process owns a data file (`<path>.lock`); a second open fails with StoreLockedError.
 * - Threads: a file store's writes (group-commit transactions and compaction
 *   chunks) run on a worker thread that owns the only writing connection
 *   (writer-worker.ts), so COMMIT's fsync never blocks this event loop; reads
 *   and watch replay run here on a read-only connection. A ':memory:' store
 *   runs everything on its one connection on this thread (a worker cannot
 *   share an in-memory database); it exists for tests.
 * - Writes are group-committed: all writes submitted in one event-loop turn are
 *   applied in submission order inside one transaction, each CAS checked against
 *   the state left by the writes before it, and every promise settles after the
 *   COMMIT returned. With synchronous=FULL (default) that COMMIT fsynced the WAL.
 *   One batch is with the writer at a time; writes submitted meanwhile form the next.
 * - Watch events are published synchronously when the store learns of the
 *   COMMIT, and before the writers' promises resolve: when a write resolves,
 *   every open watcher matching its key already holds its event (or was closed as slow).
 * - Reads see published state only: the last revision whose events were
 *   published, never a commit the writer made but this thread has not yet
 *   published; the revision a read reports is that one. A write's own effects
 *   are visible once it resolved.
 * - If the writer thread dies, its batch in flight rejects (outcome unknown),
 *   every later write rejects with StoreWriterError, and reads and watches go
 *   on over everything it committed. Reopen the store to write again.
 */

import fs from 'node:fs';
import path from 'node:path';
import type { Worker } from 'node:worker_threads';
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
import type { DeleteResult, KeyValue, ListOptions, ListResult, Store, Watch, WatchEvent, WatchOptions, WriteResult } from './types.js';
import { WatchHub } from './watchhub.js';
import type { ReplaySource } from './watchhub.js';
import { readRevision, settleBatch } from './writer.js';
import type { BatchOutcome, WriteOp, WriteOutcome } from './writer.js';
import { InProcessWriter, StoreWriterError, WorkerWriter } from './writer-client.js';
import type { Writer, WriterInfo } from './writer-client.js';

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
  /** Revisions compacted per transaction, so compaction never holds the writer long. Default 1000. */
  compactChunk?: number;
}

export interface CompactorOptions {
  intervalMs: number;
  /** History kept: each run compacts up to currentRevision - keepRevisions. */
  keepRevisions: number;
}

const log = logger('store');

export class SqliteStore implements Store {
  /** Last published revision: every event up to it has been published. */
  private rev: number;
  /** Reads at or below it are refused; raised before a compaction chunk is handed to the writer. */
  private compacted: number;
  /** Set by close(): new calls reject with StoreClosedError. */
  private closing: Promise<void> | undefined;
  /** The read connection is closed. */
  private dbClosed = false;
  private readonly hub = new WatchHub(() => this.rev);
  private readonly writer: Writer;
  private readonly writes: GroupCommit<WriteOp, WriteOutcome>;
  private readonly compactors = new Set<() => void>();
  private compactChain: Promise<void> = Promise.resolve();
  private readonly q: LogQueries;
  private readonly compactChunk: number;
  private readonly s: ReturnType<typeof prepareStatements>;
  private readonly dataVersion: Database.Statement;
  /** `PRAGMA data_version` of the read connection while nothing was with the writer. */
  private publishedVersion: number;
  /** Runs a read in one read transaction if its snapshot holds exactly the published state. */
  private readonly readPinned: (read: () => unknown) => { value: unknown } | undefined;

  private constructor(
    private readonly db: Database.Database,
    private readonly lock: FileLock | undefined,
    file: string,
    opts: SqliteStoreOptions,
  ) {
    this.s = prepareStatements(db);
    this.q = new LogQueries(db);
    this.rev = readRevision(db);
    this.compacted = (this.s.metaGet.get('compacted') as number | undefined) ?? 0;
    this.compactChunk = opts.compactChunk ?? 1000;
    this.dataVersion = db.prepare('PRAGMA data_version').pluck();
    this.publishedVersion = this.dataVersion.get() as number;
    this.readPinned = db.transaction((read: () => unknown) =>
      this.dataVersion.get() === this.publishedVersion ? { value: read() } : undefined,
    );
    this.writer =
      file === ':memory:'
        ? new InProcessWriter(db)
        : new WorkerWriter(
            { file, synchronous: opts.synchronous ?? 'full' },
            {
              revision: this.rev,
              onSettled: () => {
                // Nothing is with the writer: the database holds exactly what was published.
                if (!this.dbClosed) this.publishedVersion = this.dataVersion.get() as number;
              },
              onFailed: (err) => this.writerFailed(err),
            },
          );
    this.writes = new GroupCommit<WriteOp, WriteOutcome>(
      (ops) => this.writer.batch(ops, (outcome) => this.committed(ops, outcome)),
      opts.maxBatch ?? 1000,
    );
  }

  /**
   * Opens (creating if needed) the store at `file`, or an in-memory one for
   * ':memory:'. Throws StoreLockedError if another live process has it open.
   * A file store starts its writer thread and waits (synchronously, once) for
   * it to open the file; if it cannot, open() throws the writer's error.
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
      // From here this connection only reads; the writer thread owns the writes.
      if (!memory) db.pragma('query_only = ON');
      return new SqliteStore(db, lock, memory ? file : path.resolve(file), opts);
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

  /**
   * A batch committed. Advance the revision and publish its events in this one
   * synchronous block, before the writers' promises resolve, so a watch
   * registered later replays up to `rev` from the log and never sees a
   * committed-but-unpublished batch.
   */
  private committed(ops: readonly WriteOp[], outcome: BatchOutcome): WriteOutcome[] {
    const events: WatchEvent[] = [];
    const results = settleBatch(ops, outcome.outcomes, events);
    this.rev = outcome.rev;
    this.publish(events);
    return results;
  }

  private publish(events: readonly WatchEvent[]): void {
    try {
      this.hub.publish(events);
    } catch (err) {
      // The batch is committed and must be reported so. A watcher may now
      // have missed an event: end them all so clients re-list and re-watch.
      log.error({ err }, 'watch fan-out failed; closing all watches');
      this.hub.closeAll('closed');
    }
  }

  /**
   * The writer thread died. It may have committed a batch it could not answer:
   * publish whatever the log holds beyond our revision, so reads, watches and
   * the revision agree again (the store is read-only from now on).
   */
  private writerFailed(err: StoreWriterError): void {
    log.error({ err }, 'store writer failed; writes will fail until the store is reopened');
    if (this.dbClosed) return;
    try {
      const last = readRevision(this.db);
      if (last > this.rev) {
        const events = this.q.events('', this.rev, last, -1).map(rowToEvent);
        this.rev = last;
        this.publish(events);
      }
      this.publishedVersion = this.dataVersion.get() as number;
    } catch (e) {
      log.error({ err: e }, 'store: catching up after the writer failed');
      this.hub.closeAll('closed');
    }
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
    const row = await this.atPublished(() => this.s.getLive.get(key) as LogRow | undefined);
    return row ? rowToKv(row) : undefined;
  }

  async count(prefix: string): Promise<number> {
    this.assertOpen();
    return this.atPublished(() => this.q.countLatest(prefix, undefined));
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
    return this.atPublished((): ListResult => {
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
    });
  }

  /**
   * Runs `read` (synchronous SQL on the read connection) against exactly the
   * published state. While nothing is with the writer the database holds just
   * that, so the read runs as is. While a job is, the writer may already have
   * committed it, before its answer reached this thread and its events were
   * published: then the read runs in one read transaction whose snapshot is
   * checked with `PRAGMA data_version` (which changes when another connection
   * committed); if the snapshot holds the unpublished commit the read waits for
   * the answer, which is already on its way, and runs again.
   */
  private async atPublished<T>(read: () => T): Promise<T> {
    for (;;) {
      if (!this.writer.busy) return read();
      const got = this.readPinned(read);
      if (got) return got.value as T;
      await this.writer.settled();
      this.assertOpen();
    }
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
    // published in between (see committed()).
    return this.hub.open({
      prefix,
      afterRevision: opts.afterRevision,
      bufferSize: opts.bufferSize ?? 1000,
      replayUpTo: this.rev,
      replay: this.replay,
      signal: opts.signal,
    });
  }

  /**
   * Replay reads ids in (after, upTo] with upTo <= the published revision:
   * rows the writer may be adding are above it, and rows compaction may be
   * deleting are at or below `compacted`, which is raised before the deletion
   * starts. So replay needs no snapshot check.
   */
  private readonly replay: ReplaySource = (prefix, after, upTo, limit) => {
    if (this.dbClosed) throw new StoreClosedError();
    if (after < this.compacted) throw new CompactedError(after, this.compacted);
    return this.q.events(prefix, after, upTo, limit).map(rowToEvent);
  };

  // ---- compaction ---------------------------------------------------------

  /**
   * Deletes history at and below `revision`: rows superseded by a newer row of
   * the same key at or below it, and tombstones at or below it. Latest values
   * of live keys are kept. Idempotent; calls are serialized; a revision at or
   * below the current compacted one is a no-op. Runs in chunks of
   * `compactChunk` revisions, each its own writer transaction that also
   * persists the new compacted revision, between write batches.
   *
   * The compacted revision this store reports (and checks reads and watches
   * against) is raised to a chunk's end before the writer starts deleting it,
   * since the deletion runs in parallel with this thread's reads; if the chunk
   * rolls back it is lowered again.
   */
  compact(revision: number): Promise<void> {
    const run = async (): Promise<void> => {
      this.assertOpen();
      assertRevision('revision', revision);
      if (revision > this.rev) throw new FutureRevisionError(revision, this.rev);
      while (!this.closing && this.compacted < revision) {
        const from = this.compacted;
        const to = Math.min(revision, from + this.compactChunk);
        this.compacted = to;
        try {
          await this.writer.compact(from, to);
        } catch (err) {
          // Rolled back: that history is intact. A dead writer (outcome unknown): keep refusing it.
          if (!(err instanceof StoreWriterError)) this.compacted = from;
          throw err;
        }
        // Let reads, writes and I/O run between chunks.
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
      if (this.closing || target <= this.compacted) return;
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
   * Stops compactors, commits (and publishes) writes already submitted, ends
   * every watch with 'store-closed', closes the read connection, then the
   * writer (whose connection, closing last, checkpoints the WAL on its thread),
   * and releases the lock. Idempotent: every call returns the same promise.
   * Calls made after close() began reject with StoreClosedError.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    for (const stop of [...this.compactors]) stop();
    try {
      await this.writes.drain();
      await this.compactChain; // a running compaction stops after its current chunk
    } finally {
      this.hub.closeAll('store-closed');
      this.dbClosed = true;
      this.db.close();
      try {
        await this.writer.close();
      } finally {
        this.lock?.release();
      }
    }
  }

  /** Open watches (for metrics and tests). */
  get watcherCount(): number {
    return this.hub.size;
  }

  /**
   * Which thread writes, with the settings SQLite reports on the writing
   * connection (a file store: a worker thread, WAL, the requested synchronous).
   * Waits for the writer thread to be up.
   */
  writerInfo(): Promise<WriterInfo> {
    return this.writer.info();
  }

  /** @internal For tests: the writer thread of a file store, so they can kill it. */
  get writerThread(): Worker | undefined {
    return this.writer instanceof WorkerWriter ? this.writer.thread : undefined;
  }

  /** @internal For tests: a batch or compaction chunk is with the writer thread. */
  get writerBusy(): boolean {
    return this.writer.busy;
  }

  private assertOpen(): void {
    if (this.closing) throw new StoreClosedError();
  }
}

function assertRevision(what: string, rev: number): void {
  if (!Number.isSafeInteger(rev) || rev < 0) throw new RangeError(`${what} must be a non-negative integer, got ${rev}`);
}
