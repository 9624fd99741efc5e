/**
 * JSON Patch (RFC 6902) with JSON Pointer (RFC 6901) paths.
 *
 * Contract: `applyJsonPatch` never mutates its inputs; it validates the whole
 * patch before applying anything and applies atomically (all operations or
 * none). A patch that is not a well-formed operation list is a 400 BadRequest;
 * a well-formed patch that does not apply to this document (missing path,
 * index out of bounds, failed `test`) is a 422.
 */

import { badRequest } from '../../../common/errors.js';
import { clone, deepEqual, isObject, show, unprocessable } from './json.js';

export type JsonPatchOp =
  | { op: 'add' | 'replace' | 'test'; path: string; value: unknown }
  | { op: 'remove'; path: string }
  | { op: 'move' | 'copy'; from: string; path: string };

const OPS = new Set(['add', 'remove', 'replace', 'move', 'copy', 'test']);

/**
 * Parses a JSON Pointer into its unescaped reference tokens. `""` is the whole
 * document. Throws 400 for pointers that are syntactically invalid.
 */
export function parsePointer(pointer: string): string[] {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) {
    throw badRequest(`invalid JSON pointer ${JSON.stringify(pointer)}: must be empty or start with "/"`);
  }
  return pointer
    .slice(1)
    .split('/')
    .map((tok) => {
      if (/~(?![01])/.test(tok)) {
        throw badRequest(`invalid JSON pointer ${JSON.stringify(pointer)}: "~" must be followed by "0" or "1"`);
      }
      // ~1 first, then ~0, so that "~01" decodes to "~1" and not "/" (RFC 6901 section 4).
      return tok.replace(/~1/g, '/').replace(/~0/g, '~');
    });
}

/** Checks the shape of a JSON Patch body and returns it typed. Throws 400. */
export function validateJsonPatch(patch: unknown): JsonPatchOp[] {
  if (!Array.isArray(patch)) {
    throw badRequest(`a JSON patch must be an array of operations, got ${show(patch)}`);
  }
  return patch.map((raw, i): JsonPatchOp => {
    const where = `JSON patch operation ${i}`;
    if (!isObject(raw)) throw badRequest(`${where}: must be an object, got ${show(raw)}`);
    const { op, path } = raw;
    if (typeof op !== 'string') throw badRequest(`${where}: missing or non-string "op"`);
    if (!OPS.has(op)) throw badRequest(`${where}: unknown op ${JSON.stringify(op)}`);
    if (typeof path !== 'string') throw badRequest(`${where} (${op}): missing or non-string "path"`);
    parsePointer(path);
    switch (op) {
      case 'add':
      case 'replace':
      case 'test':
        // `value` may legitimately be null; it must be present.
        if (!('value' in raw)) throw badRequest(`${where} (${op}): missing "value"`);
        return { op, path, value: raw.value };
      case 'move':
      case 'copy': {
        const from = raw.from;
        if (typeof from !== 'string') throw badRequest(`${where} (${op}): missing or non-string "from"`);
        parsePointer(from);
        return { op, from, path };
      }
      default:
        return { op: 'remove', path };
    }
  });
}

/** A resolved location: the container holding the target and the key in it. */
interface Location {
  parent: unknown;
  key: string;
}

/** Thrown while applying; carries the text that becomes the 422 message. */
class ApplyError extends Error {}

/** Walks to the parent of the target; every intermediate value must exist. */
function locate(doc: unknown, tokens: string[], pointer: string): Location {
  let cur = doc;
  for (let i = 0; i < tokens.length - 1; i++) {
    const next = child(cur, tokens[i]);
    if (next === undefined) {
      throw new ApplyError(`doc is missing path: ${JSON.stringify(pointer)}`);
    }
    cur = next;
  }
  return { parent: cur, key: tokens[tokens.length - 1] };
}

function child(container: unknown, key: string): unknown {
  if (Array.isArray(container)) {
    const i = arrayIndex(key, container.length, false);
    return container[i];
  }
  if (isObject(container)) {
    return Object.prototype.hasOwnProperty.call(container, key) ? container[key] : undefined;
  }
  return undefined;
}

/**
 * Array index from a reference token. `-` means "past the end" and is only
 * meaningful for `add`; leading zeros are not allowed (RFC 6901 section 4).
 */
function arrayIndex(key: string, length: number, forAdd: boolean): number {
  if (key === '-') {
    if (forAdd) return length;
    throw new ApplyError(`"-" (past the end of the array) can only be used by add`);
  }
  if (!/^(0|[1-9][0-9]*)$/.test(key)) throw new ApplyError(`${JSON.stringify(key)} is not a valid array index`);
  const i = Number(key);
  const max = forAdd ? length : length - 1;
  if (i > max) throw new ApplyError(`index ${i} is out of bounds for an array of length ${length}`);
  return i;
}

function get(doc: unknown, pointer: string): unknown {
  const tokens = parsePointer(pointer);
  if (tokens.length === 0) return doc;
  const { parent, key } = locate(doc, tokens, pointer);
  const v = child(parent, key);
  if (v === undefined) throw new ApplyError(`doc is missing path: ${JSON.stringify(pointer)}`);
  return v;
}

/** Returns the new document (only differs from `doc` when the root is replaced). */
function add(doc: unknown, pointer: string, value: unknown): unknown {
  const tokens = parsePointer(pointer);
  if (tokens.length === 0) return value;
  const { parent, key } = locate(doc, tokens, pointer);
  if (Array.isArray(parent)) {
    parent.splice(arrayIndex(key, parent.length, true), 0, value);
  } else if (isObject(parent)) {
    parent[key] = value;
  } else {
    throw new ApplyError(`doc is missing path: ${JSON.stringify(pointer)}: parent is not an object or array`);
  }
  return doc;
}

function remove(doc: unknown, pointer: string): unknown {
  const tokens = parsePointer(pointer);
  if (tokens.length === 0) throw new ApplyError('cannot remove the whole document');
  const { parent, key } = locate(doc, tokens, pointer);
  if (Array.isArray(parent)) {
    parent.splice(arrayIndex(key, parent.length, false), 1);
  } else if (isObject(parent) && Object.prototype.hasOwnProperty.call(parent, key)) {
    delete parent[key];
  } else {
    throw new ApplyError(`doc is missing path: ${JSON.stringify(pointer)}`);
  }
  return doc;
}

function replace(doc: unknown, pointer: string, value: unknown): unknown {
  const tokens = parsePointer(pointer);
  if (tokens.length === 0) return value;
  const { parent, key } = locate(doc, tokens, pointer);
  if (Array.isArray(parent)) {
    parent[arrayIndex(key, parent.length, false)] = value;
  } else if (isObject(parent) && Object.prototype.hasOwnProperty.call(parent, key)) {
    parent[key] = value;
  } else {
    throw new ApplyError(`doc is missing path: ${JSON.stringify(pointer)}`);
  }
  return doc;
}

function isProperPrefix(prefix: string[], of: string[]): boolean {
  return prefix.length < of.length && prefix.every((t, i) => t === of[i]);
}

function applyOne(doc: unknown, op: JsonPatchOp): unknown {
  switch (op.op) {
    case 'add':
      return add(doc, op.path, clone(op.value));
    case 'remove':
      return remove(doc, op.path);
    case 'replace':
      return replace(doc, op.path, clone(op.value));
    case 'move': {
      if (op.from === op.path) {
        get(doc, op.from); // still required to exist
        return doc;
      }
      if (isProperPrefix(parsePointer(op.from), parsePointer(op.path))) {
        throw new ApplyError(`cannot move ${JSON.stringify(op.from)} into its own child ${JSON.stringify(op.path)}`);
      }
      const value = get(doc, op.from);
      return add(remove(doc, op.from), op.path, value);
    }
    case 'copy':
      return add(doc, op.path, clone(get(doc, op.from)));
    case 'test': {
      const actual = get(doc, op.path);
      if (!deepEqual(actual, op.value)) {
        throw new ApplyError(`test failed at ${JSON.stringify(op.path)}: found ${show(actual)}, expected ${show(op.value)}`);
      }
      return doc;
    }
  }
}

/**
 * Applies an RFC 6902 patch to a copy of `doc` and returns the result.
 * Throws StatusError 400 for a malformed patch, 422 when it does not apply.
 */
export function applyJsonPatch(doc: unknown, patch: unknown): unknown {
  const ops = validateJsonPatch(patch);
  let out = clone(doc);
  ops.forEach((op, i) => {
    try {
      out = applyOne(out, op);
    } catch (e) {
      if (e instanceof ApplyError) {
        throw unprocessable(`JSON patch operation ${i} (${op.op} ${op.path}) does not apply: ${e.message}`);
      }
      throw e;
    }
  });
  return out;
}
