/**
 * Garbage-collector decisions as pure functions: how an object's owners stand,
 * and what to do about it (attemptToDeleteItem and processDeletingDependents in
 * Kubernetes' garbagecollector.go).
 */
import type { Obj, OwnerReference } from './objects.js';

export const FOREGROUND = 'foregroundDeletion';
export const ORPHAN = 'orphan';

/** How one owner reference resolved. */
export type OwnerState = 'solid' | 'dangling' | 'waiting';

/**
 * An owner that exists is `solid`, unless it is being deleted in the foreground
 * (`waiting` for its dependents); an owner that is gone, or was replaced by a
 * newer object of the same name, leaves a `dangling` reference.
 */
export function ownerState(ref: OwnerReference, owner: Obj | undefined): OwnerState {
  if (!owner || owner.metadata?.uid !== ref.uid) return 'dangling';
  const deleting = Boolean(owner.metadata.deletionTimestamp);
  return deleting && (owner.metadata.finalizers ?? []).includes(FOREGROUND) ? 'waiting' : 'solid';
}

export type DependentAction =
  | { type: 'none' }
  /** Remove these owner references (by uid); solid owners remain. */
  | { type: 'removeRefs'; uids: string[] }
  | { type: 'delete'; policy: 'Background' | 'Foreground' | 'Orphan' };

/**
 * What to do with a dependent given its owners' states. With a solid owner it
 * stays, minus references to owners that are gone or going. Without one it is
 * deleted: in the foreground if an owner waits for it and it has dependents of
 * its own (so they go first), otherwise honouring a policy already requested
 * through its finalizers, else in the background.
 */
export function decideForDependent(o: Obj, states: Map<string, OwnerState>, hasDependents: boolean): DependentAction {
  const refs: OwnerReference[] = o.metadata?.ownerReferences ?? [];
  if (refs.length === 0) return { type: 'none' };
  const uids = (s: OwnerState): string[] => refs.filter((r) => states.get(r.uid) === s).map((r) => r.uid);
  const solid = refs.filter((r) => (states.get(r.uid) ?? 'solid') === 'solid');
  const dangling = uids('dangling');
  const waiting = uids('waiting');
  if (solid.length > 0) {
    if (dangling.length === 0 && waiting.length === 0) return { type: 'none' };
    return { type: 'removeRefs', uids: [...dangling, ...waiting] };
  }
  if (waiting.length > 0 && hasDependents) return { type: 'delete', policy: 'Foreground' };
  const fins: string[] = o.metadata?.finalizers ?? [];
  if (fins.includes(ORPHAN)) return { type: 'delete', policy: 'Orphan' };
  if (fins.includes(FOREGROUND)) return { type: 'delete', policy: 'Foreground' };
  return { type: 'delete', policy: 'Background' };
}

/**
 * Dependents that still hold a foreground-deleted owner: those with a reference
 * to it carrying blockOwnerDeletion. The owner's finalizer goes once there are none.
 */
export function blockingDependents(ownerUid: string, dependents: Obj[]): Obj[] {
  return dependents.filter((d) => (d.metadata?.ownerReferences ?? []).some((r: OwnerReference) => r.uid === ownerUid && r.blockOwnerDeletion === true));
}

/** `o`'s owner references without those to `uids`. */
export function withoutRefs(o: Obj, uids: string[]): OwnerReference[] {
  const drop = new Set(uids);
  return (o.metadata?.ownerReferences ?? []).filter((r: OwnerReference) => !drop.has(r.uid));
}

/** `o`'s finalizers without `f`. */
export function withoutFinalizer(o: Obj, f: string): string[] {
  return (o.metadata?.finalizers ?? []).filter((x: string) => x !== f);
}
