/**
 * Cache indexes several controllers share. Each name always maps to the same
 * function, so `addIndex` from a second controller is a no-op.
 */
import { selectorFromObject, matches, type LabelSelector, type Selector } from '../../common/labels.js';
import type { SharedInformer } from './informer.js';
import { controllerOf, ownerRefs, type Obj } from './objects.js';

/** Objects by the uid of their controller (ownerReference with controller: true). */
export const BY_CONTROLLER = 'controllerUid';
/** Objects by the uid of any of their owners. */
export const BY_OWNER = 'ownerUid';
/** Pods by spec.nodeName. */
export const BY_NODE = 'nodeName';
/** Objects by metadata.uid. */
export const BY_UID = 'uid';

export function indexByController(inf: SharedInformer): void {
  inf.addIndex(BY_CONTROLLER, (o) => {
    const ref = controllerOf(o);
    return ref?.uid ? [ref.uid] : [];
  });
}

export function indexByOwner(inf: SharedInformer): void {
  inf.addIndex(BY_OWNER, (o) => ownerRefs(o).map((r) => r.uid).filter(Boolean));
}

export function indexByNode(inf: SharedInformer): void {
  inf.addIndex(BY_NODE, (o) => (o.spec?.nodeName ? [o.spec.nodeName] : []));
}

export function indexByUid(inf: SharedInformer): void {
  inf.addIndex(BY_UID, (o) => (o.metadata?.uid ? [o.metadata.uid] : []));
}

/**
 * A workload's label selector, or null when it has none or it does not parse
 * (such an object selects nothing rather than everything).
 */
export function selectorOf(sel: LabelSelector | undefined | null): Selector | null {
  try {
    return selectorFromObject(sel);
  } catch {
    return null;
  }
}

/** Whether `o`'s selector (spec.selector as a LabelSelector) selects `labels`. */
export function selects(o: Obj, labels: Record<string, string> | undefined): boolean {
  const sel = selectorOf(o.spec?.selector);
  return sel !== null && sel.length > 0 && matches(sel, labels);
}

/**
 * The object `ref` points to in `inf`'s namespace `ns`, if it is the same
 * object (uid) — a name can be reused by a newer object.
 */
export function resolveRef(inf: SharedInformer, ns: string | undefined, ref: { name: string; uid: string } | undefined): Obj | undefined {
  if (!ref) return undefined;
  const o = inf.get(ns, ref.name);
  return o && o.metadata?.uid === ref.uid ? o : undefined;
}
