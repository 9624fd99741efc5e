/**
 * Controller expectations (client-go's UIDTrackingControllerExpectations): a
 * controller that just created N pods or deleted some must not act on a cache that
 * does not show those changes yet, or it would create (or delete) them twice.
 *
 * `expectCreations(key, n)` before sending creates; the pod informer calls
 * `creationObserved(key)` for each pod it sees appear. Deletions are tracked by
 * pod key, so only the deletions actually asked for count. `satisfied(key)` is
 * true when nothing is outstanding, when nothing was ever expected, or when the
 * expectations are older than the TTL (a lost event must not wedge the
 * controller forever).
 */
import type { Clock } from './clock.js';

interface Record_ {
  adds: number;
  deletes: Set<string>;
  at: number;
}

export const EXPECTATIONS_TTL_MS = 5 * 60 * 1000;

export class Expectations {
  private records = new Map<string, Record_>();

  constructor(
    private readonly clock: Clock,
    private readonly ttlMs = EXPECTATIONS_TTL_MS,
  ) {}

  satisfied(key: string): boolean {
    const r = this.records.get(key);
    if (!r) return true;
    if (r.adds <= 0 && r.deletes.size === 0) return true;
    return this.clock.now() - r.at > this.ttlMs;
  }

  /** Replaces whatever was expected for `key` with `n` creations. */
  expectCreations(key: string, n: number): void {
    this.records.set(key, { adds: n, deletes: new Set(), at: this.clock.now() });
  }

  /** Replaces whatever was expected for `key` with the deletion of `podKeys`. */
  expectDeletions(key: string, podKeys: string[]): void {
    this.records.set(key, { adds: 0, deletes: new Set(podKeys), at: this.clock.now() });
  }

  /** Replaces whatever was expected for `key` with `adds` creations and the deletion of `podKeys`. */
  expect(key: string, adds: number, podKeys: string[]): void {
    this.records.set(key, { adds, deletes: new Set(podKeys), at: this.clock.now() });
  }

  /** One expected creation happened (or will not: a create failed). */
  creationObserved(key: string, n = 1): void {
    const r = this.records.get(key);
    if (r) r.adds -= n;
  }

  /** The deletion of `podKey` happened (or will not). Unexpected deletions are ignored. */
  deletionObserved(key: string, podKey: string): void {
    this.records.get(key)?.deletes.delete(podKey);
  }

  /** Forgets `key` (its owner is gone). */
  delete(key: string): void {
    this.records.delete(key);
  }

  /** Outstanding creations and deletions, for logs and tests. */
  pending(key: string): { adds: number; deletes: number } {
    const r = this.records.get(key);
    return { adds: Math.max(0, r?.adds ?? 0), deletes: r?.deletes.size ?? 0 };
  }
}
