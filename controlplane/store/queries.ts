/**
 * The SQL over the log, as prepared statements: the fixed ones the writes and
 * compaction use, and the read queries whose shape depends on the key range.
 * Pure SQL and row shapes; revision checks (compacted, future) are the store's job.
 *
 * Key ranges are `[prefix, prefixEnd(prefix))` comparisons, never LIKE, so
 * `%` and `_` in keys are literal and the name indexes are used.
 */

import type Database from 'better-sqlite3';
import { keyRange } from './schema.js';
import type { LogRow } from './schema.js';

/** The fixed statements, prepared once. */
export function prepareStatements(db: Database.Database) {
  return {
    latest: db.prepare('SELECT * FROM kv WHERE name = ? ORDER BY id DESC LIMIT 1'),
    insert: db.prepare(
      'INSERT INTO kv (id, name, created, deleted, create_revision, prev_revision, value, old_value) ' +
        'VALUES (@id, @name, @created, @deleted, @create_revision, @prev_revision, @value, @old_value)',
    ),
    setCurrent: db.prepare('INSERT INTO current (name, id) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET id = excluded.id'),
    dropCurrent: db.prepare('DELETE FROM current WHERE name = ?'),
    getLive: db.prepare('SELECT kv.* FROM current c JOIN kv ON kv.id = c.id WHERE c.name = ?'),
    metaGet: db.prepare('SELECT value FROM meta WHERE key = ?').pluck(),
    metaSet: db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value'),
    // The top row per key written in the window supersedes every older row of that key.
    compactSuperseded: db.prepare(
      'DELETE FROM kv WHERE id IN (SELECT k.id FROM ' +
        '(SELECT name, MAX(id) AS top FROM kv WHERE id > ? AND id <= ? GROUP BY name) w ' +
        'JOIN kv k ON k.name = w.name AND k.id < w.top)',
    ),
    compactTombstones: db.prepare('DELETE FROM kv WHERE deleted = 1 AND id > ? AND id <= ?'),
  };
}

export class LogQueries {
  private readonly cache = new Map<string, Database.Statement>();

  constructor(private readonly db: Database.Database) {}

  /** Live keys now, from `current` (no history scan). */
  rowsLatest(prefix: string, after: string | undefined, limit: number): LogRow[] {
    const r = keyRange('c.name', prefix, after);
    const sql = `SELECT kv.* FROM current c JOIN kv ON kv.id = c.id WHERE ${r.sql} ORDER BY c.name LIMIT ?`;
    return this.stmt(sql).all(...r.params, limit) as LogRow[];
  }

  /** Counts `current` only: counting must not touch the values. */
  countLatest(prefix: string, after: string | undefined): number {
    const r = keyRange('c.name', prefix, after);
    return this.stmt(`SELECT count(*) FROM current c WHERE ${r.sql}`, true).get(...r.params) as number;
  }

  /**
   * Keys live at `revision`: walks kv_name_id in key order keeping each key's
   * newest row at or below it. Streaming in index order lets LIMIT stop early
   * (a GROUP BY form sorts the whole range first: ~20 ms vs ~4 ms a page at 10k keys).
   */
  rowsAt(revision: number, prefix: string, after: string | undefined, limit: number): LogRow[] {
    const r = keyRange('kv.name', prefix, after);
    const sql =
      `SELECT kv.* FROM kv INDEXED BY kv_name_id WHERE ${r.sql} ` +
      'AND kv.id = (SELECT MAX(k.id) FROM kv k WHERE k.name = kv.name AND k.id <= ?) ' +
      'AND kv.deleted = 0 ORDER BY kv.name LIMIT ?';
    return this.stmt(sql).all(...r.params, revision, limit) as LogRow[];
  }

  /**
   * Counts keys live at `revision` in one pass over the covering index:
   * `deleted` comes from each key's MAX(id) row (SQLite's bare-column rule for
   * min/max aggregates). ~8 ms for 10k keys x 5 revisions, vs ~60-120 ms for
   * the correlated form, which reads every row.
   */
  countAt(revision: number, prefix: string, after: string | undefined): number {
    const r = keyRange('name', prefix, after);
    const sql = `SELECT count(*) FROM (SELECT MAX(id), deleted FROM kv WHERE ${r.sql} AND id <= ? GROUP BY name) WHERE deleted = 0`;
    return this.stmt(sql, true).get(...r.params, revision) as number;
  }

  /** Log rows on keys starting with `prefix` with id in (after, upTo], in id order. */
  events(prefix: string, after: number, upTo: number, limit: number): LogRow[] {
    // The empty prefix needs no name filter at all.
    const r = prefix === '' ? undefined : keyRange('name', prefix);
    const sql = `SELECT * FROM kv WHERE id > ? AND id <= ?${r ? ` AND ${r.sql}` : ''} ORDER BY id LIMIT ?`;
    return this.stmt(sql).all(after, upTo, ...(r?.params ?? []), limit) as LogRow[];
  }

  /** Prepared once per SQL shape (a handful: with or without startAfter, with or without an end bound). */
  private stmt(sql: string, pluck = false): Database.Statement {
    const key = pluck ? `pluck:${sql}` : sql;
    let st = this.cache.get(key);
    if (!st) {
      st = this.db.prepare(sql).pluck(pluck);
      this.cache.set(key, st);
    }
    return st;
  }
}
