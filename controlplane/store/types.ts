/**
 * The store contract: a revisioned key-value log (kine/etcd semantics).
 *
 * - Every write gets the next global revision; an object's `modRevision` is its
 *   Kubernetes `resourceVersion`.
 * - Writes that lose a race are *results* (`ok: false`), never exceptions.
 *   Exceptions mean the backend itself failed.
 * - A write resolves only once it is durable.
 * - Watch delivers every event after a revision in revision order, through a
 *   bounded buffer; a watcher that falls behind is closed with reason 'slow'
 *   rather than stalling writers or other watchers.
 * - Revisions older than the compacted revision answer `CompactedError`
 *   (the API maps it to 410 Expired).
 *
 * Values are opaque strings (the API server stores JSON without resourceVersion).
 */

export interface KeyValue {
  key: string;
  value: string;
  /** Revision that created this key (since its last deletion). */
  createRevision: number;
  /** Revision of the last write to this key: the resourceVersion. */
  modRevision: number;
}

export type WriteResult =
  | { ok: true; revision: number; kv: KeyValue }
  /** exists: create found the key; conflict: modRevision did not match; missing: no such key. */
  | { ok: false; reason: 'exists' | 'conflict' | 'missing'; current?: KeyValue };

export type DeleteResult =
  | { ok: true; revision: number; prev: KeyValue }
  | { ok: false; reason: 'conflict' | 'missing'; current?: KeyValue };

export interface ListOptions {
  /** Read as of this revision (0 or absent: latest). Older than compacted: CompactedError. */
  revision?: number;
  /** Return at most this many items (0 or absent: all). */
  limit?: number;
  /** Return keys strictly greater than this one (pagination). */
  startAfter?: string;
}

export interface ListResult {
  items: KeyValue[];
  /** The revision the list was read at. */
  revision: number;
  /** How many matching keys come after the last returned item (0 when complete). */
  remaining: number;
}

/**
 * 'progress' is a notification, not a change: every event on the watched prefix
 * up to its revision has been delivered before it (etcd's progress notify).
 * Its kv carries only modRevision.
 */
export type EventType = 'create' | 'update' | 'delete' | 'progress';

export interface WatchEvent {
  type: EventType;
  /** For delete: the deleted value, with modRevision set to the delete's revision. */
  kv: KeyValue;
  /** The value before this event (absent for create). */
  prev?: KeyValue;
  revision: number;
}

export interface WatchOptions {
  /** Events with revision > afterRevision are delivered. */
  afterRevision: number;
  /** Bounded buffer of undelivered events; overflow closes the watch with 'slow'. Default 1000. */
  bufferSize?: number;
  signal?: AbortSignal;
}

export type WatchCloseReason = 'closed' | 'slow' | 'compacted' | 'aborted' | 'store-closed';

/**
 * An open watch. Iterate it to receive events; iteration ends when the watch
 * closes, and `closeReason` then says why.
 */
export interface Watch extends AsyncIterable<WatchEvent> {
  close(): void;
  /** Queues a 'progress' event at the store's current revision, in order with the others. */
  requestProgress(): void;
  readonly closeReason: WatchCloseReason | undefined;
}

export class CompactedError extends Error {
  readonly code = 'ECOMPACTED';
  constructor(
    readonly requested: number,
    readonly compacted: number,
  ) {
    super(`required revision ${requested} has been compacted (oldest available ${compacted + 1})`);
    this.name = 'CompactedError';
  }
}

/** A read asked for a revision newer than the store has written (etcd's ErrFutureRev). */
export class FutureRevisionError extends Error {
  readonly code = 'EFUTUREREV';
  constructor(
    readonly requested: number,
    readonly current: number,
  ) {
    super(`required revision ${requested} is a future revision (current ${current})`);
    this.name = 'FutureRevisionError';
  }
}

/** The store was closed; the call did not run. */
export class StoreClosedError extends Error {
  readonly code = 'ESTORECLOSED';
  constructor() {
    super('store is closed');
    this.name = 'StoreClosedError';
  }
}

export interface Store {
  /** The latest revision written. */
  currentRevision(): Promise<number>;
  /** The newest compacted revision: reads and watches must ask for revisions above it. */
  compactedRevision(): Promise<number>;
  get(key: string): Promise<KeyValue | undefined>;
  /** Creates only if absent. */
  create(key: string, value: string): Promise<WriteResult>;
  /** Compare-and-swap on modRevision. */
  update(key: string, value: string, expectedModRevision: number): Promise<WriteResult>;
  /** Deletes; with expectedModRevision, only if it still matches. */
  delete(key: string, expectedModRevision?: number): Promise<DeleteResult>;
  /** Keys starting with prefix, in key order. */
  list(prefix: string, opts?: ListOptions): Promise<ListResult>;
  /** Counts keys starting with prefix (latest). */
  count(prefix: string): Promise<number>;
  /** Events on keys starting with prefix after opts.afterRevision. Rejects with CompactedError if that is too old. */
  watch(prefix: string, opts: WatchOptions): Promise<Watch>;
  /** Forget history at and below `revision` (latest values of live keys are kept). */
  compact(revision: number): Promise<void>;
  close(): Promise<void>;
}
