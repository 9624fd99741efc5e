/**
 * The garbage collector: deletes dependents whose owners are gone (Background),
 * deletes the dependents of an owner deleted in the Foreground before letting
 * the owner go (finalizer `foregroundDeletion`), and strips the references to an
 * owner deleted with Orphan before letting it go (finalizer `orphan`).
 *
 * The object graph is the informer caches of every kind in GC_KINDS, each
 * indexed by owner uid. Keys are `<plural>.<group>|<namespace>/<name>`. An owner
 * missing from the cache is confirmed missing with a live GET before anything is
 * deleted: the cache may simply not have seen it yet.
 */
import { ApiError, isNotFound } from './client.js';
import { QueueController, type ControllerContext } from './controller.js';
import { blockingDependents, decideForDependent, FOREGROUND, ORPHAN, ownerState, withoutFinalizer, withoutRefs, type OwnerState } from './gc-logic.js';
import { BY_OWNER, indexByOwner } from './indexes.js';
import type { SharedInformer } from './informer.js';
import { isBeingDeleted, jsonEqual, keyOf, ownerRefs, splitKey, type Obj } from './objects.js';
import { GC_KINDS, kindFor, pathFor, type Kind } from './resources.js';

const kindId = (k: Kind): string => `${k.plural}.${k.group}`;

export class GarbageCollector extends QueueController {
  private readonly informers = new Map<string, { kind: Kind; inf: SharedInformer }>();

  constructor(ctx: ControllerContext, kinds: readonly Kind[] = GC_KINDS) {
    super('garbagecollector', ctx);
    for (const kind of kinds) {
      const inf = ctx.informers.forKind(kind);
      indexByOwner(inf);
      this.informers.set(kindId(kind), { kind, inf });
      inf.addEventHandler({
        add: (o) => this.observe(kind, o),
        update: (old, o) => {
          // Only owner references and deletion state matter here; status churn does not.
          const m = old.metadata;
          const n = o.metadata;
          if (!jsonEqual(m.ownerReferences, n.ownerReferences) || m.deletionTimestamp !== n.deletionTimestamp || !jsonEqual(m.finalizers, n.finalizers)) this.observe(kind, o);
        },
        delete: (o) => this.deleted(o),
      });
    }
  }

  private keyFor(kind: Kind, o: Obj): string {
    return `${kindId(kind)}|${keyOf(o)}`;
  }

  /** Objects with owners, or with a GC finalizer while being deleted, need a look. */
  private observe(kind: Kind, o: Obj): void {
    const fins: string[] = o.metadata?.finalizers ?? [];
    if (ownerRefs(o).length > 0 || (isBeingDeleted(o) && (fins.includes(FOREGROUND) || fins.includes(ORPHAN)))) this.queue.add(this.keyFor(kind, o));
  }

  /** A gone object orphans its dependents and may unblock a foreground-deleted owner. */
  private deleted(o: Obj): void {
    for (const { kind, inf } of this.informers.values()) {
      for (const dep of inf.byIndex(BY_OWNER, o.metadata.uid)) this.queue.add(this.keyFor(kind, dep));
    }
    for (const ref of ownerRefs(o)) {
      const kind = kindFor(ref.apiVersion, ref.kind);
      const owner = kind && this.lookup(kind, o.metadata.namespace, ref.name);
      if (kind && owner && owner.metadata.uid === ref.uid) this.queue.add(this.keyFor(kind, owner));
    }
  }

  private lookup(kind: Kind, ns: string | undefined, name: string): Obj | undefined {
    return this.informers.get(kindId(kind))?.inf.get(kind.namespaced ? ns : undefined, name);
  }

  /** Everything in the caches with an owner reference to `uid`. */
  private dependents(uid: string): { kind: Kind; obj: Obj }[] {
    const out: { kind: Kind; obj: Obj }[] = [];
    for (const { kind, inf } of this.informers.values()) for (const obj of inf.byIndex(BY_OWNER, uid)) out.push({ kind, obj });
    return out;
  }

  async sync(key: string): Promise<void> {
    const bar = key.indexOf('|');
    const entry = this.informers.get(key.slice(0, bar));
    if (!entry) return;
    const { namespace, name } = splitKey(key.slice(bar + 1));
    const o = entry.inf.get(namespace || undefined, name);
    if (!o) return;
    if (isBeingDeleted(o)) {
      const fins: string[] = o.metadata.finalizers ?? [];
      if (fins.includes(ORPHAN)) return this.orphanDependents(entry.kind, o);
      if (fins.includes(FOREGROUND)) return this.deleteDependentsFirst(entry.kind, o);
      return;
    }
    if (ownerRefs(o).length > 0) await this.attemptToDelete(entry.kind, o);
  }

  /** Resolves each owner: from the cache, or confirmed with a live GET when the cache has none. */
  private async ownerStates(o: Obj): Promise<Map<string, OwnerState>> {
    const states = new Map<string, OwnerState>();
    for (const ref of ownerRefs(o)) {
      const kind = kindFor(ref.apiVersion, ref.kind);
      if (!kind) {
        // An owner of a kind we do not track is never presumed gone.
        states.set(ref.uid, 'solid');
        continue;
      }
      let owner = this.lookup(kind, o.metadata.namespace, ref.name);
      if (!owner || owner.metadata.uid !== ref.uid) {
        try {
          owner = await this.api.get(pathFor(kind, o.metadata.namespace, ref.name));
        } catch (e) {
          if (!isNotFound(e)) throw e;
          owner = undefined;
        }
      }
      states.set(ref.uid, ownerState(ref, owner));
    }
    return states;
  }

  private async attemptToDelete(kind: Kind, o: Obj): Promise<void> {
    const states = await this.ownerStates(o);
    const action = decideForDependent(o, states, this.dependents(o.metadata.uid).length > 0);
    if (action.type === 'removeRefs') {
      await this.patch(kind, o, { ownerReferences: nullIfEmpty(withoutRefs(o, action.uids)) });
    } else if (action.type === 'delete') {
      this.log.info({ kind: kind.kind, object: keyOf(o), policy: action.policy }, 'deleting dependent whose owners are gone');
      await this.remove(kind, o, action.policy);
    }
  }

  /** Foreground: delete the dependents; release the owner once none blocks it. */
  private async deleteDependentsFirst(kind: Kind, owner: Obj): Promise<void> {
    const deps = this.dependents(owner.metadata.uid);
    for (const { kind: k, obj } of deps) if (!isBeingDeleted(obj)) await this.attemptToDelete(k, obj);
    const blocking = blockingDependents(
      owner.metadata.uid,
      deps.map((d) => d.obj),
    );
    // Deletions of the blocking dependents requeue the owner (see deleted()).
    if (blocking.length > 0) return;
    await this.patch(kind, owner, { finalizers: nullIfEmpty(withoutFinalizer(owner, FOREGROUND)) });
  }

  /** Orphan: remove the references to the owner from its dependents, then release it. */
  private async orphanDependents(kind: Kind, owner: Obj): Promise<void> {
    for (const { kind: k, obj } of this.dependents(owner.metadata.uid)) {
      await this.patch(k, obj, { ownerReferences: nullIfEmpty(withoutRefs(obj, [owner.metadata.uid])) });
    }
    await this.patch(kind, owner, { finalizers: nullIfEmpty(withoutFinalizer(owner, ORPHAN)) });
  }

  /** A metadata merge patch pinned to the version decided on; gone is fine. */
  private async patch(kind: Kind, o: Obj, meta: Obj): Promise<void> {
    try {
      await this.api.patch(pathFor(kind, o.metadata.namespace, o.metadata.name), { metadata: { ...meta, resourceVersion: o.metadata.resourceVersion } });
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  }

  private async remove(kind: Kind, o: Obj, policy: 'Background' | 'Foreground' | 'Orphan'): Promise<void> {
    try {
      await this.api.delete(pathFor(kind, o.metadata.namespace, o.metadata.name), { propagationPolicy: policy, preconditions: { uid: o.metadata.uid } });
    } catch (e) {
      // Gone, or replaced by a newer object of the same name (uid precondition): nothing to do.
      if (isNotFound(e) || (e instanceof ApiError && e.code === 409)) return;
      throw e;
    }
  }
}

function nullIfEmpty<T>(xs: T[]): T[] | null {
  return xs.length ? xs : null;
}
