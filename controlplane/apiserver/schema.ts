/**
 * Schemas of the served kinds, derived from @kubernetes/client-node's generated
 * model classes (their static `attributeTypeMap`), for two consumers:
 *
 * - `unknownFields`: the apiserver's strict field validation
 *   (`?fieldValidation=Strict|Warn`), reporting paths the way the strict JSON
 *   decoder does (`spec.template.spec.containers[0].imagee`).
 * - `/openapi/v3`: `openapiIndex` and `openapiGroupVersion`, the documents
 *   kubectl reads to decide that validation is server-side (a PATCH operation
 *   with the kind's `x-kubernetes-group-version-kind` and a `fieldValidation`
 *   query parameter) and that `kubectl explain` renders.
 *
 * Pure and deterministic; documents and their hashes are memoized.
 *
 * The models are imported from their own module: importing the package root
 * also loads undici 8, which throws at load time on Node 20 (no zstd).
 */

import { createHash } from 'node:crypto';
import * as models from '@kubernetes/client-node/dist/gen/models/all.js';
import { RESOURCES, groupVersion, groupVersions, type ResourceDef } from './resources.js';
import { buildPaths, type Gvk } from './schema/paths.js';

interface Attribute {
  name: string;
  baseName: string;
  type: string;
  format: string;
}

/** A parsed `attributeTypeMap` type string. */
type TypeRef =
  | { t: 'model'; name: string }
  | { t: 'array'; of: TypeRef }
  | { t: 'map'; of: TypeRef }
  | { t: 'scalar'; schema: Record<string, unknown> }
  | { t: 'any' };

const MODELS = models as unknown as Record<string, { attributeTypeMap?: Attribute[] } | undefined>;

function attributes(cls: string): Attribute[] | undefined {
  const m = MODELS[cls];
  return m && Array.isArray(m.attributeTypeMap) ? m.attributeTypeMap : undefined;
}

/** Parses `Array<V1Container>`, `{ [key: string]: string; }`, `IntOrString`, `Date`, ... */
function parseType(type: string, format: string): TypeRef {
  const t = type.trim();
  const arr = /^Array<(.+)>$/.exec(t);
  if (arr) return { t: 'array', of: parseType(arr[1], format) };
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(t);
  if (map) return { t: 'map', of: parseType(map[1], format) };
  switch (t) {
    case 'string':
      return { t: 'scalar', schema: format === 'byte' ? { type: 'string', format: 'byte' } : { type: 'string' } };
    case 'boolean':
      return { t: 'scalar', schema: { type: 'boolean' } };
    case 'number':
      return { t: 'scalar', schema: format === 'double' ? { type: 'number', format: 'double' } : { type: 'integer', format: format || 'int64' } };
    case 'Date':
    case 'V1MicroTime':
      return { t: 'scalar', schema: { type: 'string', format: 'date-time' } };
    case 'IntOrString':
      return { t: 'scalar', schema: { 'x-kubernetes-int-or-string': true } };
    case 'any':
      return { t: 'any' };
  }
  // An unknown name must not make valid input fail: treat it as free-form.
  return attributes(t) ? { t: 'model', name: t } : { t: 'any' };
}

const fieldCache = new Map<string, Map<string, TypeRef>>();

/** JSON field name → type of a model class (client-node's `baseName` is the wire name). */
function fields(cls: string): Map<string, TypeRef> {
  let f = fieldCache.get(cls);
  if (!f) {
    f = new Map((attributes(cls) ?? []).map((a) => [a.baseName, parseType(a.type, a.format)]));
    fieldCache.set(cls, f);
  }
  return f;
}

const cap = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1);

/** `Core`, `Apps`, `Coordination`: the prefix client-node and kube operation ids use for a group. */
export const groupPrefix = (group: string): string => cap(group.split('.')[0] || 'core');

/**
 * The model class of a kind: the group-qualified class when client-node had to
 * disambiguate (`CoreV1Event`), else the plain one (`V1Pod`, `V1Scale`).
 */
function classFor(group: string, version: string, kind: string): string | undefined {
  const v = cap(version);
  return [`${groupPrefix(group)}${v}${kind}`, `${v}${kind}`].find((c) => attributes(c) !== undefined);
}

function splitApiVersion(apiVersion: string): { group: string; version: string } {
  const i = apiVersion.indexOf('/');
  return i < 0 ? { group: '', version: apiVersion } : { group: apiVersion.slice(0, i), version: apiVersion.slice(i + 1) };
}

/** Every kind a request body may carry, keyed `apiVersion/kind`: served kinds, their lists, subresource kinds, DeleteOptions. */
let kindIndex: Map<string, string> | undefined;
function kindClass(apiVersion: string, kind: string): string | undefined {
  if (!kindIndex) {
    const idx = new Map<string, string>();
    const add = (group: string, version: string, k: string): void => {
      const cls = classFor(group, version, k);
      if (cls) idx.set(`${group ? `${group}/` : ''}${version}/${k}`, cls);
    };
    for (const r of RESOURCES) {
      add(r.group, r.version, r.kind);
      add(r.group, r.version, r.listKind);
      for (const s of r.subresources) add(s.group ?? r.group, s.version ?? r.version, s.kind);
    }
    for (const gv of groupVersions()) add(gv.group, gv.version, 'DeleteOptions');
    add('meta.k8s.io', 'v1', 'DeleteOptions');
    kindIndex = idx;
  }
  return kindIndex.get(`${apiVersion}/${kind}`);
}

/** The strict decoder stops collecting after 100 errors. */
const MAX_STRICT_ERRORS = 100;

function walk(ref: TypeRef, value: unknown, path: string, out: string[]): void {
  if (out.length >= MAX_STRICT_ERRORS || value === null || typeof value !== 'object') return;
  // Map keys and struct fields both extend the path with `.key`; array elements with `[i]`.
  const join = (k: string): string => (path ? `${path}.${k}` : k);
  if (ref.t === 'array') {
    if (Array.isArray(value)) value.forEach((v, i) => walk(ref.of, v, `${path}[${i}]`, out));
  } else if (ref.t === 'map') {
    if (!Array.isArray(value)) for (const [k, v] of Object.entries(value)) walk(ref.of, v, join(k), out);
  } else if (ref.t === 'model' && !Array.isArray(value)) {
    const known = fields(ref.name);
    for (const [k, v] of Object.entries(value)) {
      const f = known.get(k);
      if (!f) {
        // Duplicated messages are reported once, as sigs.k8s.io/json dedupes them.
        if (!out.includes(join(k)) && out.length < MAX_STRICT_ERRORS) out.push(join(k));
      } else walk(f, v, join(k), out);
    }
  }
  // Scalars, IntOrString and free-form (`any`) values accept anything here; type errors are not unknown fields.
}

/**
 * Paths of the fields of `obj` that the schema of `apiVersion`/`kind` does not
 * know, in document order, formatted like the apiserver's strict decoder
 * (`metadata.labelz`, `spec.containers[0].imagee`; the error message is
 * `strict decoding error: unknown field "<path>"`). Matching is
 * case-sensitive. Kinds without a model (custom resources) are not checked: [].
 */
export function unknownFields(apiVersion: string, kind: string, obj: unknown): string[] {
  const cls = kindClass(apiVersion, kind);
  if (!cls) return [];
  const out: string[] = [];
  walk({ t: 'model', name: cls }, obj, '', out);
  return out;
}

// ---- OpenAPI v3 ----

/** Types that live in apimachinery's meta/v1 and core/v1 whatever kind reaches them. */
const META_TYPES = new Set([
  'ObjectMeta', 'ListMeta', 'LabelSelector', 'LabelSelectorRequirement', 'OwnerReference', 'ManagedFieldsEntry',
  'Status', 'StatusDetails', 'StatusCause', 'DeleteOptions', 'Preconditions', 'Condition', 'WatchEvent',
]);
const CORE_TYPES = new Set(['PodTemplateSpec', 'PodSpec', 'ObjectReference', 'LocalObjectReference', 'TypedLocalObjectReference']);

const META_PREFIX = 'io.k8s.apimachinery.pkg.apis.meta.v1';
const PATCH_SCHEMA = `${META_PREFIX}.Patch`;

/**
 * kube's schema name of a class: `io.k8s.api.<pkg>.<version>.<Name>`. client-node
 * names drop the package, so it is recovered from a group prefix (`DiscoveryV1...`),
 * the well-known meta/core types, or else the package of the kind that reached it.
 */
function schemaName(cls: string, inherited: string): { name: string; pkg: string } {
  const m = /^([A-Z][a-z]+)?(V\d+(?:alpha\d+|beta\d+)?)([A-Z]\w*)$/.exec(cls);
  if (!m) return { name: cls, pkg: inherited };
  const [, prefix, ver, short] = m;
  const pkg = prefix ? prefix.toLowerCase() : META_TYPES.has(short) ? 'meta' : CORE_TYPES.has(short) ? 'core' : inherited;
  const v = ver.toLowerCase();
  return { name: pkg === 'meta' ? `io.k8s.apimachinery.pkg.apis.meta.${v}.${short}` : `io.k8s.api.${pkg}.${v}.${short}`, pkg };
}

type Schema = Record<string, unknown>;

/** Builds `components.schemas` for one document by walking from its root kinds. */
class SchemaBuilder {
  readonly schemas: Record<string, Schema> = {
    [PATCH_SCHEMA]: { description: 'Patch is provided to give a concrete name and type to the Kubernetes PATCH request body.', type: 'object' },
  };
  private readonly names = new Map<string, string>();

  /** Adds `cls` (and everything it references) and returns its schema name. */
  model(cls: string, inheritedPkg: string): string {
    const known = this.names.get(cls);
    if (known) return known;
    const { name, pkg } = schemaName(cls, inheritedPkg);
    this.names.set(cls, name);
    const properties: Record<string, Schema> = {};
    // Registered before recursing so self-referencing types terminate.
    this.schemas[name] = { type: 'object', properties };
    for (const a of attributes(cls) ?? []) properties[a.baseName] = this.schema(parseType(a.type, a.format), pkg);
    return name;
  }

  /** A property schema; object references use kube's `allOf: [{$ref}]` form, which kubectl explain follows. */
  schema(ref: TypeRef, pkg: string): Schema {
    switch (ref.t) {
      case 'model':
        return { allOf: [{ $ref: `#/components/schemas/${this.model(ref.name, pkg)}` }] };
      case 'array':
        return { type: 'array', items: this.schema(ref.of, pkg) };
      case 'map':
        return { type: 'object', additionalProperties: this.schema(ref.of, pkg) };
      case 'scalar':
        return { ...ref.schema };
      case 'any':
        return { type: 'object', 'x-kubernetes-preserve-unknown-fields': true };
    }
  }

  /** Adds a kind's schema and lists `gvk` in its `x-kubernetes-group-version-kind` array. */
  kind(gvk: Gvk, pkg: string): string | undefined {
    const cls = classFor(gvk.group, gvk.version, gvk.kind);
    if (!cls) return undefined;
    const name = this.model(cls, pkg);
    const s = this.schemas[name];
    const list = (s['x-kubernetes-group-version-kind'] ??= []) as Gvk[];
    if (!list.some((g) => g.group === gvk.group && g.version === gvk.version && g.kind === gvk.kind)) list.push({ ...gvk });
    return name;
  }
}

const pkgOf = (group: string): string => group.split('.')[0] || 'core';

function buildDocument(group: string, version: string): Record<string, unknown> {
  const resources: ResourceDef[] = RESOURCES.filter((r) => r.group === group && r.version === version);
  const b = new SchemaBuilder();
  /** Schema name of a kind of this document (registering it), for the path builder. */
  const kindSchema = (gvk: Gvk): string | undefined => b.kind(gvk, pkgOf(gvk.group));
  for (const gv of groupVersions()) b.kind({ group: gv.group, kind: 'DeleteOptions', version: gv.version }, 'meta');
  b.kind({ group: '', kind: 'Status', version: 'v1' }, 'meta');
  const paths = buildPaths(group, version, resources, kindSchema, {
    deleteOptions: `${META_PREFIX}.DeleteOptions`,
    status: `${META_PREFIX}.Status`,
    patch: PATCH_SCHEMA,
  });
  // Sorted so the document, and so its hash, does not depend on traversal order.
  const schemas = Object.fromEntries(Object.entries(b.schemas).sort(([a], [c]) => (a < c ? -1 : a > c ? 1 : 0)));
  return {
    openapi: '3.0.0',
    info: { title: 'Kubernetes', version: 'v1.32.0' },
    paths,
    components: { schemas },
  };
}

const documents = new Map<string, { doc: Record<string, unknown>; hash: string }>();

function entry(group: string, version: string): { doc: Record<string, unknown>; hash: string } | undefined {
  if (!groupVersions().some((gv) => gv.group === group && gv.version === version)) return undefined;
  const key = groupVersion({ group, version });
  let e = documents.get(key);
  if (!e) {
    const doc = buildDocument(group, version);
    // Same form as kube-apiserver's ETag: uppercase hex SHA-512 of the served bytes.
    e = { doc, hash: createHash('sha512').update(JSON.stringify(doc)).digest('hex').toUpperCase() };
    documents.set(key, e);
  }
  return e;
}

/** `api/v1` / `apis/apps/v1`: the key of a group version in the `/openapi/v3` index. */
export const openapiPathKey = (group: string, version: string): string => (group ? `apis/${group}/${version}` : `api/${version}`);

/**
 * `GET /openapi/v3`: every served group version with the URL of its document,
 * carrying `?hash=` of the document so clients can cache it.
 */
export function openapiIndex(): { paths: Record<string, { serverRelativeURL: string }> } {
  const paths: Record<string, { serverRelativeURL: string }> = {};
  for (const { group, version } of groupVersions()) {
    const key = openapiPathKey(group, version);
    paths[key] = { serverRelativeURL: `/openapi/v3/${key}?hash=${entry(group, version)!.hash}` };
  }
  return { paths };
}

/**
 * `GET /openapi/v3/api/v1` or `/openapi/v3/apis/<group>/<version>`: the OpenAPI
 * 3.0 document of one group version, or undefined when it is not served. The
 * same (memoized) object is returned on every call: callers must not mutate it.
 */
export function openapiGroupVersion(group: string, version: string): Record<string, unknown> | undefined {
  return entry(group, version)?.doc;
}

/** The hash `openapiIndex` advertises for a group version (for ETag / Cache-Control handling). */
export function openapiHash(group: string, version: string): string | undefined {
  return entry(group, version)?.hash;
}
