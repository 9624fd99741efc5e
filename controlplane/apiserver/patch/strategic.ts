/**
 * Kubernetes strategic merge patch, applied server-side the way apimachinery's
 * `StrategicMergeMapPatch` does it for built-in kinds.
 *
 * - Maps merge recursively; a `null` value deletes the key.
 * - Lists follow `listStrategy` (mergekeys.ts): merged by a key, merged as a
 *   set of primitives, or replaced whole.
 * - Directives: `$patch: replace|delete|merge` on maps and list elements,
 *   `$setElementOrder/<list>`, `$retainKeys`, `$deleteFromPrimitiveList/<list>`.
 *   Any other `$`-prefixed key is a 400.
 *
 * Contract: never mutates `current` or `patch`; the result shares no
 * references with either. Directives and nulls never reach the result, also
 * in values the object did not have before (which Kubernetes would strip only
 * when decoding into Go structs). Malformed patches throw StatusError 400.
 */

import { badRequest } from '../../../common/errors.js';
import { clone, isObject, jsonType, show, type JsonObject } from './json.js';
import { listStrategy } from './mergekeys.js';

const DIRECTIVE = '$patch';
const RETAIN_KEYS = '$retainKeys';
const SET_ORDER = '$setElementOrder/';
const DELETE_FROM = '$deleteFromPrimitiveList/';

/** What `$patch: delete` on a map yields: the parent drops the key. */
const DELETED = Symbol('deleted');
type Merged = JsonObject | typeof DELETED;

interface Ctx {
  kind: string;
}

/** Key of a list element for matching and ordering: the merge key's value, or the primitive itself. */
type KeyOf = (item: unknown) => unknown;

/**
 * Applies a strategic merge patch to `current`, an object of `kind` (which
 * decides the merge keys, see mergekeys.ts). Throws 400 for malformed patches.
 */
export function strategicMergePatch(current: JsonObject, patch: unknown, kind: string): JsonObject {
  if (!isObject(patch)) {
    throw badRequest(`a strategic merge patch must be a JSON object, got ${jsonType(patch)}`);
  }
  const out = mergeMap(clone(current), patch, [], { kind });
  if (out === DELETED) throw badRequest('"$patch": "delete" cannot delete the whole object');
  return out;
}

const hasOwn = (o: object, k: string): boolean => Object.prototype.hasOwnProperty.call(o, k);
const dotted = (path: readonly string[]): string => path.join('.') || '<root>';

/**
 * Merges `patch` into `original`, which this function owns and may mutate
 * (`undefined` when the object had no value there: the patch is then
 * "materialized", i.e. cleaned of directives and nulls).
 */
function mergeMap(original: JsonObject | undefined, patch: JsonObject, path: string[], ctx: Ctx): Merged {
  let body = patch;
  if (hasOwn(patch, DIRECTIVE)) {
    const { [DIRECTIVE]: directive, ...rest } = patch;
    switch (directive) {
      case 'delete':
        return DELETED;
      case 'replace':
        // Replace this map with the patch's content, ignoring what was there.
        return mergeMap(undefined, rest, path, ctx);
      case 'merge':
        body = rest;
        break;
      default:
        throw badRequest(`unknown patch type: ${show(directive)} in map at ${dotted(path)}: ${show(patch)}`);
    }
  }

  const out = original ?? {};
  applyRetainKeys(out, body, path);

  // Directives that act on a sibling list run after that list is merged: the
  // order needs the merged contents, and deletions must see additions.
  const orders: [string, unknown][] = [];
  const deletions: [string, unknown][] = [];
  for (const [k, v] of Object.entries(body)) {
    if (!k.startsWith('$') || k === RETAIN_KEYS) continue;
    if (k.startsWith(SET_ORDER) && k.length > SET_ORDER.length) orders.push([k.slice(SET_ORDER.length), v]);
    else if (k.startsWith(DELETE_FROM) && k.length > DELETE_FROM.length) deletions.push([k.slice(DELETE_FROM.length), v]);
    else throw badRequest(`unknown strategic merge patch directive ${JSON.stringify(k)} at ${dotted(path)}`);
  }
  // The live order of each reordered list, before the patch touches it.
  const liveOrder = new Map(orders.map(([f]) => [f, Array.isArray(out[f]) ? [...(out[f] as unknown[])] : []]));

  for (const [k, v] of Object.entries(body)) {
    if (!k.startsWith('$')) mergeField(out, k, v, [...path, k], ctx);
  }
  for (const [field, order] of orders) {
    applySetElementOrder(out, field, order, liveOrder.get(field) ?? [], body[field], [...path, field], ctx);
  }
  for (const [field, values] of deletions) {
    applyDeleteFromPrimitiveList(out, field, values, [...path, field]);
  }
  return out;
}

function mergeField(out: JsonObject, k: string, v: unknown, path: string[], ctx: Ctx): void {
  if (v === null) {
    delete out[k];
    return;
  }
  const cur = hasOwn(out, k) ? out[k] : undefined;
  if (isObject(v)) {
    // A type change (list or scalar to map) replaces: merge against nothing.
    const merged = mergeMap(isObject(cur) ? cur : undefined, v, path, ctx);
    if (merged === DELETED) delete out[k];
    else out[k] = merged;
  } else if (Array.isArray(v)) {
    out[k] = mergeList(Array.isArray(cur) ? cur : [], v, path, ctx);
  } else {
    out[k] = v;
  }
}

/** Merges a patch list into the live list (owned, may be mutated) per the field's strategy. */
function mergeList(original: unknown[], patch: unknown[], path: string[], ctx: Ctx): unknown[] {
  const strategy = listStrategy(path, ctx.kind);
  switch (strategy.type) {
    case 'atomic':
      return materializeList(patch, path, ctx);
    case 'primitive':
      return mergePrimitiveList(original, patch, path);
    case 'map':
      return mergeKeyedList(original, patch, strategy.key, path, ctx);
  }
}

function materializeList(patch: unknown[], path: string[], ctx: Ctx): unknown[] {
  const out: unknown[] = [];
  for (const el of patch) {
    if (!isObject(el)) {
      out.push(clone(el));
      continue;
    }
    const m = mergeMap(undefined, el, path, ctx);
    if (m !== DELETED) out.push(m);
  }
  return out;
}

function mergePrimitiveList(original: unknown[], patch: unknown[], path: string[]): unknown[] {
  for (const el of patch) {
    if (typeof el === 'object' && el !== null) {
      throw badRequest(`expected a list of primitives at ${dotted(path)}, got element ${show(el)}`);
    }
  }
  const merged = [...new Set([...original, ...patch])];
  return orderLike(merged, patch, original, (x) => x);
}

function requireMergeKey(el: JsonObject, key: string, path: string[]): void {
  const v = el[key];
  if (!hasOwn(el, key) || v === null || typeof v === 'object') {
    throw badRequest(`map: ${show(el)} does not contain declared merge key: ${key} (in list ${dotted(path)})`);
  }
}

function mergeKeyedList(original: unknown[], patch: unknown[], key: string, path: string[], ctx: Ctx): unknown[] {
  const keyOf: KeyOf = (x) => (isObject(x) ? x[key] : undefined);
  let live = original;
  const items: JsonObject[] = [];
  let replace = false;
  for (const el of patch) {
    if (!isObject(el)) {
      throw badRequest(`expected a map in list ${dotted(path)} (merge key "${key}"), got ${show(el)}`);
    }
    if (!hasOwn(el, DIRECTIVE)) {
      requireMergeKey(el, key, path);
      items.push(el);
      continue;
    }
    const { [DIRECTIVE]: directive, ...rest } = el;
    switch (directive) {
      case 'delete':
        requireMergeKey(el, key, path);
        live = live.filter((o) => keyOf(o) !== el[key]);
        break;
      case 'replace':
        // `{"$patch": "replace"}` as an element: the list becomes the other elements.
        replace = true;
        break;
      case 'merge':
        // Explicitly asks for the default; an element carrying a key is merged as usual.
        if (hasOwn(rest, key)) {
          requireMergeKey(rest, key, path);
          items.push(rest);
        }
        break;
      default:
        throw badRequest(`unknown patch type: ${show(directive)} in list ${dotted(path)}: ${show(el)}`);
    }
  }
  if (replace) return materializeList(items, path, ctx);

  const merged = [...live];
  for (const el of items) {
    const i = merged.findIndex((o) => isObject(o) && o[key] === el[key]);
    const m = mergeMap(i >= 0 ? (merged[i] as JsonObject) : undefined, el, path, ctx);
    if (m === DELETED) continue; // unreachable: elements with directives were handled above
    if (i >= 0) merged[i] = m;
    else merged.push(m);
  }
  return orderLike(merged, items, live, keyOf);
}

/** Stable sort by position in `order`; items not in it go last. */
function sortByOrder(items: unknown[], order: Map<unknown, number>, keyOf: KeyOf): unknown[] {
  const pos = (x: unknown): number => order.get(keyOf(x)) ?? Number.POSITIVE_INFINITY;
  return [...items].sort((a, b) => {
    const pa = pos(a);
    const pb = pos(b);
    return pa === pb ? 0 : pa < pb ? -1 : 1;
  });
}

function indexMap(list: unknown[], keyOf: KeyOf): Map<unknown, number> {
  const m = new Map<unknown, number>();
  list.forEach((x, i) => {
    const k = keyOf(x);
    if (!m.has(k)) m.set(k, i);
  });
  return m;
}

/**
 * Orders a merged list as apimachinery's `normalizeElementOrder` does: items
 * named in `order` (the patch list or `$setElementOrder`) follow that order;
 * the other (server-only) items keep their live order; the two sequences are
 * interleaved, placing a server-only item first when it preceded the next
 * ordered item in the live list.
 */
function orderLike(merged: unknown[], order: unknown[], live: unknown[], keyOf: KeyOf): unknown[] {
  const orderIdx = indexMap(order, keyOf);
  const liveIdx = indexMap(live, keyOf);
  const ordered = sortByOrder(merged.filter((x) => orderIdx.has(keyOf(x))), orderIdx, keyOf);
  const serverOnly = sortByOrder(merged.filter((x) => !orderIdx.has(keyOf(x))), liveIdx, keyOf);
  const out: unknown[] = [];
  let i = 0;
  let j = 0;
  while (i < serverOnly.length || j < ordered.length) {
    if (j >= ordered.length) {
      out.push(serverOnly[i++]);
    } else if (i >= serverOnly.length) {
      out.push(ordered[j++]);
    } else {
      const li = liveIdx.get(keyOf(serverOnly[i]));
      const ri = liveIdx.get(keyOf(ordered[j]));
      if (li !== undefined && ri !== undefined && li < ri) out.push(serverOnly[i++]);
      else out.push(ordered[j++]);
    }
  }
  return out;
}

function applyRetainKeys(out: JsonObject, patch: JsonObject, path: string[]): void {
  if (!hasOwn(patch, RETAIN_KEYS)) return;
  const keys = patch[RETAIN_KEYS];
  if (!Array.isArray(keys) || keys.some((k) => typeof k !== 'string')) {
    throw badRequest(`invalid patch format of retainKeys at ${dotted(path)}: $retainKeys must be a list of strings`);
  }
  const keep = new Set(keys as string[]);
  for (const [k, v] of Object.entries(patch)) {
    if (v === null || k.startsWith('$') || keep.has(k)) continue;
    throw badRequest(`invalid patch format of retainKeys at ${dotted(path)}: "${k}" is set in the patch but not listed in $retainKeys`);
  }
  for (const k of Object.keys(out)) {
    if (!keep.has(k)) delete out[k];
  }
}

function applySetElementOrder(
  out: JsonObject,
  field: string,
  order: unknown,
  live: unknown[],
  patchList: unknown,
  path: string[],
  ctx: Ctx,
): void {
  const bad = (why: string) => badRequest(`invalid patch format of setElementOrder list at ${dotted(path)}: ${why}`);
  if (!Array.isArray(order)) throw bad(`$setElementOrder/${field} must be a list`);
  const strategy = listStrategy(path, ctx.kind);
  // Order only means something for lists that merge; atomic lists take the patch's order.
  if (strategy.type === 'atomic') return;
  const key = strategy.type === 'map' ? strategy.key : undefined;
  const keyOf: KeyOf = key === undefined ? (x) => x : (x) => (isObject(x) ? x[key] : undefined);
  for (const el of order) {
    if (key === undefined ? typeof el === 'object' && el !== null : !isObject(el) || !hasOwn(el, key)) {
      throw bad(`element ${show(el)} is not ${key === undefined ? 'a primitive' : `a map with merge key "${key}"`}`);
    }
  }
  if (Array.isArray(patchList)) checkPatchFollowsOrder(patchList, order, keyOf, bad, field);
  const list = out[field];
  if (Array.isArray(list)) out[field] = orderLike(list, order, live, keyOf);
}

/** The patch list (deletions aside) must be a subsequence of the `$setElementOrder` list. */
function checkPatchFollowsOrder(
  patchList: unknown[],
  order: unknown[],
  keyOf: KeyOf,
  bad: (why: string) => Error,
  field: string,
): void {
  const items = patchList.filter((x) => !(isObject(x) && hasOwn(x, DIRECTIVE)));
  let p = 0;
  for (let o = 0; o < order.length && p < items.length; o++) {
    if (keyOf(items[p]) === keyOf(order[o])) p++;
  }
  if (p < items.length) {
    throw bad(`the order of ${show(patchList)} does not match $setElementOrder/${field} ${show(order)}`);
  }
}

function applyDeleteFromPrimitiveList(out: JsonObject, field: string, values: unknown, path: string[]): void {
  if (!Array.isArray(values) || values.some((v) => typeof v === 'object' && v !== null)) {
    throw badRequest(`invalid patch format of primitive list at ${dotted(path)}: $deleteFromPrimitiveList/${field} must be a list of primitives`);
  }
  const list = out[field];
  if (!Array.isArray(list)) return;
  const drop = new Set(values);
  out[field] = list.filter((x) => !drop.has(x));
}
