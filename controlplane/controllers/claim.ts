/**
 * ControllerRefManager: which objects a controller owns. Of the candidates, it
 * keeps those whose controller reference is the owner and which still match its
 * selector; releases (drops the reference from) owned ones that stopped
 * matching; and adopts matching orphans — but only after a live read confirmed
 * the owner still exists and is not being deleted, since the cache may hold an
 * owner that is already gone.
 *
 * Reference changes are merge patches pinned to the candidate's
 * resourceVersion: a stale candidate fails with a conflict and the sync retries.
 */
import { isNotFound, type Api } from './client.js';
import { controllerOf, controllerRef, isBeingDeleted, type Obj } from './objects.js';
import { selects } from './indexes.js';

export interface ClaimOptions {
  api: Api;
  owner: Obj;
  /** apiVersion and kind of the owner, for the references it puts on adoptees. */
  apiVersion: string;
  kind: string;
  /** REST path of the owner (for the live check) and of a candidate by name. */
  ownerPath: string;
  candidatePath: (o: Obj) => string;
}

export async function claim(o: ClaimOptions, candidates: Obj[]): Promise<Obj[]> {
  const uid = o.owner.metadata.uid;
  const deleting = isBeingDeleted(o.owner);
  const out: Obj[] = [];
  let canAdopt: boolean | undefined;
  for (const c of candidates) {
    const ref = controllerOf(c);
    const match = selects(o.owner, c.metadata?.labels);
    if (ref) {
      if (ref.uid !== uid) continue;
      if (match) out.push(c);
      else if (!deleting) await setOwners(o, c, (c.metadata.ownerReferences ?? []).filter((r: Obj) => r.uid !== uid));
      continue;
    }
    if (!match || deleting || isBeingDeleted(c)) continue;
    canAdopt ??= await ownerIsCurrent(o);
    if (!canAdopt) continue;
    const adopted = await setOwners(o, c, [...(c.metadata.ownerReferences ?? []), controllerRef(o.owner, o.apiVersion, o.kind)]);
    if (adopted) out.push(adopted);
  }
  return out;
}

async function ownerIsCurrent(o: ClaimOptions): Promise<boolean> {
  try {
    const fresh = await o.api.get(o.ownerPath);
    return fresh.metadata.uid === o.owner.metadata.uid && !isBeingDeleted(fresh);
  } catch (e) {
    if (isNotFound(e)) return false;
    throw e;
  }
}

async function setOwners(o: ClaimOptions, c: Obj, refs: Obj[]): Promise<Obj | undefined> {
  try {
    const patch = { metadata: { ownerReferences: refs.length ? refs : null, resourceVersion: c.metadata.resourceVersion } };
    return await o.api.patch(o.candidatePath(c), patch);
  } catch (e) {
    if (isNotFound(e)) return undefined;
    throw e;
  }
}
