/**
 * JSON Merge Patch (RFC 7386): objects merge recursively, `null` removes a
 * member, anything else (arrays included) replaces the target wholesale.
 * Used by `kubectl scale`, `kubectl patch --type merge` and custom resources.
 */

import { clone, isObject } from './json.js';

/**
 * Returns `target` with `patch` merged in, following the RFC's MergePatch
 * algorithm exactly. Never mutates either argument; the result shares no
 * references with them.
 */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) {
    // A non-object patch replaces the target (this is how arrays are "merged").
    return clone(patch);
  }
  const out: Record<string, unknown> = isObject(target) ? { ...target } : {};
  for (const [name, value] of Object.entries(patch)) {
    if (value === null) {
      delete out[name];
    } else {
      out[name] = mergePatch(out[name], value);
    }
  }
  // Members of target that the patch does not mention were copied shallowly
  // above; deep-copy them so callers can mutate the result freely.
  for (const name of Object.keys(out)) {
    if (!Object.prototype.hasOwnProperty.call(patch, name)) out[name] = clone(out[name]);
  }
  return out;
}
