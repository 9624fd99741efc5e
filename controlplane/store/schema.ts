/**
 * The SQLite layout of the store and the pure helpers that turn its rows into
 * the contract's values. No I/O here beyond the DDL text.
 *
 * `kv` is an append-only log: one row per write, the row id is the global
 * revision. `current` maps each live key to the id of its latest row; it is
 * maintained in the same transaction as the log so latest-revision reads and
 * counts never scan history.
 */

import type { KeyValue, WatchEvent, EventType } from './types.js';

export const SCHEMA_VERSION = 1;

export const DDL = `
CREATE TABLE IF NOT EXISTS kv (
  -- AUTOINCREMENT: a revision is never reused, even after its row is compacted away.
  id              INTEGER PRIMARY KEY AUTOINCREMENT,
  name            TEXT    NOT NULL,
  created         INTEGER NOT NULL,   -- 1: this row (re)creates the key
  deleted         INTEGER NOT NULL,   -- 1: tombstone; value holds the deleted value
  create_revision INTEGER NOT NULL,   -- id of the row that created this incarnation
  prev_revision   INTEGER NOT NULL,   -- id of the previous row of this key (0: none)
  value           TEXT    NOT NULL,
  old_value       TEXT                -- value before an update (NULL for create/delete)
);
-- Two writers that read the same latest row both try to insert (name, prev):
-- the second fails here, so a lost race can never be committed.
CREATE UNIQUE INDEX IF NOT EXISTS kv_name_prev ON kv (name, prev_revision);
-- Latest row of a key, history reads at an older revision, compaction.
-- \`deleted\` makes it covering for "which keys were live at revision R".
CREATE INDEX IF NOT EXISTS kv_name_id ON kv (name, id, deleted);
CREATE TABLE IF NOT EXISTS current (
  name TEXT PRIMARY KEY,
  id   INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (
  key   TEXT PRIMARY KEY,
  value INTEGER NOT NULL
) WITHOUT ROWID;
`;

/** A row of `kv` as better-sqlite3 returns it. */
export interface LogRow {
  id: number;
  name: string;
  created: number;
  deleted: number;
  create_revision: number;
  prev_revision: number;
  value: string;
  old_value: string | null;
}

/** The key-value a log row establishes (for a tombstone: the deleted value at the delete's revision). */
export function rowToKv(r: LogRow): KeyValue {
  return { key: r.name, value: r.value, createRevision: r.create_revision, modRevision: r.id };
}

/** The watch event a log row records. The whole event comes from one row, so replay needs no joins. */
export function rowToEvent(r: LogRow): WatchEvent {
  const type: EventType = r.deleted ? 'delete' : r.created ? 'create' : 'update';
  const ev: WatchEvent = { type, kv: rowToKv(r), revision: r.id };
  if (type === 'update') {
    ev.prev = { key: r.name, value: r.old_value ?? '', createRevision: r.create_revision, modRevision: r.prev_revision };
  } else if (type === 'delete') {
    ev.prev = { key: r.name, value: r.value, createRevision: r.create_revision, modRevision: r.prev_revision };
  }
  return ev;
}

/**
 * The smallest string greater than every string that starts with `prefix`, or
 * undefined when there is none (empty prefix). SQLite compares TEXT as UTF-8
 * bytes, which is code point order, so bumping the last code point gives an
 * exact range `[prefix, end)`: no LIKE, no wildcard escaping, index-friendly.
 */
export function prefixEnd(prefix: string): string | undefined {
  const cps = Array.from(prefix, (c) => c.codePointAt(0) ?? 0);
  while (cps.length > 0) {
    let last = cps.pop() as number;
    if (last === 0x10ffff) continue; // no successor: carry into the previous code point
    last += 1;
    if (last === 0xd800) last = 0xe000; // surrogates are not code points in UTF-8
    return String.fromCodePoint(...cps, last);
  }
  return undefined;
}

/**
 * SQL fragment and parameters selecting `column` values that start with
 * `prefix` and are strictly greater than `after` (when given).
 */
export function keyRange(column: string, prefix: string, after?: string): { sql: string; params: string[] } {
  const parts: string[] = [];
  const params: string[] = [];
  // Compare as UTF-8 bytes, the order SQLite uses (JS `<` compares UTF-16 units).
  if (after !== undefined && Buffer.compare(Buffer.from(after), Buffer.from(prefix)) >= 0) {
    parts.push(`${column} > ?`);
    params.push(after);
  } else {
    parts.push(`${column} >= ?`);
    params.push(prefix);
  }
  const end = prefixEnd(prefix);
  if (end !== undefined) {
    parts.push(`${column} < ?`);
    params.push(end);
  }
  return { sql: parts.join(' AND '), params };
}
