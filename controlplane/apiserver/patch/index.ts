/**
 * The four PATCH flavours the API server accepts, selected by Content-Type:
 *
 * | Content-Type                              | PatchType   | Used by                                   |
 * |-------------------------------------------|-------------|-------------------------------------------|
 * | application/json-patch+json               | `json`      | `rollout undo`, client-node `patch*`       |
 * | application/merge-patch+json              | `merge`     | `scale`, `patch --type merge`, CRDs        |
 * | application/strategic-merge-patch+json    | `strategic` | client-side `apply`, `label`, `annotate`   |
 * | application/apply-patch+yaml              | `apply`     | `apply --server-side`                      |
 *
 * All functions are pure: no I/O, inputs never mutated.
 */

import { isObject, jsonType, show, unprocessable, type JsonObject } from './json.js';
import { badRequest } from '../../../common/errors.js';
import { applyJsonPatch } from './jsonpatch.js';
import { mergePatch } from './mergepatch.js';
import { strategicMergePatch } from './strategic.js';
import { applyConfiguration } from './apply.js';

export { applyJsonPatch, parsePointer, validateJsonPatch, type JsonPatchOp } from './jsonpatch.js';
export { mergePatch } from './mergepatch.js';
export { strategicMergePatch } from './strategic.js';
export { applyConfiguration, parseApplyBody, validateApplyConfiguration } from './apply.js';
export { listStrategy, type ListStrategy } from './mergekeys.js';

export type PatchType = 'json' | 'merge' | 'strategic' | 'apply';

const CONTENT_TYPES: Record<string, PatchType> = {
  'application/json-patch+json': 'json',
  'application/merge-patch+json': 'merge',
  'application/strategic-merge-patch+json': 'strategic',
  'application/apply-patch+yaml': 'apply',
};

/**
 * The patch type for a request Content-Type, ignoring parameters such as
 * `; charset=utf-8` and letter case; undefined when it is not a patch type
 * (the server answers 415).
 */
export function patchTypeFromContentType(contentType: string): PatchType | undefined {
  const mediaType = contentType.split(';')[0].trim().toLowerCase();
  return Object.prototype.hasOwnProperty.call(CONTENT_TYPES, mediaType) ? CONTENT_TYPES[mediaType] : undefined;
}

/**
 * Applies `patch` (the parsed body; for `apply` also the raw YAML text) to
 * `current`, an object of `kind`, and returns the new object.
 *
 * Never mutates `current`. Errors are StatusErrors:
 * - 400 BadRequest: the body is the wrong JSON type for the patch type (a JSON
 *   Patch that is not an array, a merge/strategic/apply patch that is not an
 *   object), or is malformed (unknown op, unknown directive, bad pointer...);
 * - 422 Invalid: a well-formed JSON Patch that does not apply (failed `test`,
 *   missing path, index out of bounds) or that turns the object into a non-object.
 *
 * For `apply` on an object that does not exist yet, use `applyConfiguration(undefined, ...)`.
 */
export function applyPatch(type: PatchType, current: JsonObject, patch: unknown, kind: string): JsonObject {
  switch (type) {
    case 'json': {
      const out = applyJsonPatch(current, patch);
      if (!isObject(out)) {
        throw unprocessable(`the JSON patch turned the object into ${jsonType(out)} ${show(out)}; the result must be an object`);
      }
      return out;
    }
    case 'merge':
      if (!isObject(patch)) {
        throw badRequest(`a JSON merge patch must be a JSON object, got ${jsonType(patch)}`);
      }
      return mergePatch(current, patch) as JsonObject;
    case 'strategic':
      return strategicMergePatch(current, patch, kind);
    case 'apply':
      return applyConfiguration(current, patch, kind);
    default: {
      // Unreachable for typed callers; guards against a bad cast at the HTTP layer.
      const never: never = type;
      throw badRequest(`unsupported patch type ${String(never)}`);
    }
  }
}
