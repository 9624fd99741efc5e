/**
 * The store package: the `Store` contract and its backends. Only the API
 * server opens a store; everything else talks to the API server.
 */

import { SqliteStore } from './sqlite.js';
import type { SqliteStoreOptions } from './sqlite.js';

export * from './types.js';
export { SqliteStore } from './sqlite.js';
export type { SqliteStoreOptions, CompactorOptions } from './sqlite.js';
export { StoreLockedError } from './lockfile.js';

export type StoreKind = 'sqlite';

/**
 * Opens a store backend. 'sqlite': `path` is the database file (':memory:' for
 * tests). An etcd backend would be another kind here, taking endpoints instead.
 */
export function openStore(kind: StoreKind, path: string, opts: SqliteStoreOptions = {}): SqliteStore {
  switch (kind) {
    case 'sqlite':
      return SqliteStore.open(path, opts);
  }
}
