/**
 * Server-side apply (`PATCH` with `application/apply-patch+yaml`), reduced to
 * create-or-merge: the applied configuration is merged into the live object
 * with strategic-merge list semantics (merge keys as in mergekeys.ts, which
 * match the `listType=map` keys of the built-in types closely enough).
 *
 * Deliberately not implemented yet: field ownership (`managedFields`), removal
 * of fields a manager stopped applying, and conflict detection (409
 * `FieldManagerConflict`). Without ownership, a field can only be removed by
 * another kind of patch or an update.
 */

import yaml from 'js-yaml';
import { badRequest } from '../../../common/errors.js';
import { clone, isObject, jsonType, type JsonObject } from './json.js';
import { strategicMergePatch } from './strategic.js';

/**
 * Parses an apply body. kubectl sends JSON, other clients YAML; JSON is YAML,
 * so one parser serves both. Throws 400 for unparsable text or multiple documents.
 */
export function parseApplyBody(text: string): unknown {
  try {
    // JSON_SCHEMA: no timestamps or other YAML-only types sneaking into objects.
    return yaml.load(text, { schema: yaml.JSON_SCHEMA });
  } catch (e) {
    throw badRequest(`error decoding YAML apply patch: ${(e as Error).message}`);
  }
}

/**
 * Checks an applied configuration and returns it as an object. It must be an
 * object with `apiVersion` and `kind`, `kind` must match the resource's kind,
 * and it must not carry strategic-merge directives (apply has none: kubectl
 * would get an "unknown field" error from a real server).
 */
export function validateApplyConfiguration(applied: unknown, kind: string): JsonObject {
  const cfg = typeof applied === 'string' ? parseApplyBody(applied) : applied;
  if (!isObject(cfg)) {
    throw badRequest(`an apply patch must be an object, got ${jsonType(cfg)}`);
  }
  for (const field of ['apiVersion', 'kind'] as const) {
    if (typeof cfg[field] !== 'string' || cfg[field] === '') {
      throw badRequest(`invalid apply configuration: ${field} must be set`);
    }
  }
  if (cfg.kind !== kind) {
    throw badRequest(`invalid apply configuration: kind ${JSON.stringify(cfg.kind)} does not match the resource's kind ${JSON.stringify(kind)}`);
  }
  rejectDirectives(cfg, '');
  return cfg;
}

function rejectDirectives(v: unknown, path: string): void {
  if (Array.isArray(v)) {
    v.forEach((x, i) => rejectDirectives(x, `${path}[${i}]`));
  } else if (isObject(v)) {
    for (const [k, x] of Object.entries(v)) {
      const p = path ? `${path}.${k}` : k;
      if (k.startsWith('$')) throw badRequest(`invalid apply configuration: unknown field ${JSON.stringify(p)}`);
      rejectDirectives(x, p);
    }
  }
}

/**
 * Removes `null` members recursively. In an apply configuration a null means
 * "this manager has no opinion", not "delete": without ownership tracking the
 * closest behaviour is to ignore it.
 */
function dropNulls(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(dropNulls);
  if (!isObject(v)) return v;
  const out: JsonObject = {};
  for (const [k, x] of Object.entries(v)) {
    if (x !== null) out[k] = dropNulls(x);
  }
  return out;
}

/**
 * Server-side apply of `applied` (an object, or the raw YAML/JSON text) for a
 * resource of `kind`. `current` is the live object, or undefined when it does
 * not exist yet (the server then creates the result, answering 201).
 * Never mutates its inputs. Throws 400 for invalid configurations.
 */
export function applyConfiguration(current: JsonObject | undefined, applied: unknown, kind: string): JsonObject {
  const cfg = dropNulls(validateApplyConfiguration(applied, kind)) as JsonObject;
  if (current === undefined) return clone(cfg);
  return strategicMergePatch(current, cfg, kind);
}
