/**
 * Building blocks shared by every validator: field-error constructors that print exactly
 * as apimachinery's `field.Error` (reason, `field`, and the body `Invalid value: -1: must
 * be ...`), the name/format checks of apimachinery's util/validation (returning a list of
 * messages, empty when valid), and ObjectMeta validation on create and update.
 *
 * Paths are plain strings in apimachinery's printed form (`spec.containers[0].image`,
 * `spec.resources.limits[cpu]`). Maps are walked in sorted key order so error lists are
 * deterministic (Go's are not).
 */
import type { FieldError } from '../../../common/errors.js';

export type Obj = Record<string, any>;
export const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
export const list = (v: unknown): any[] => (Array.isArray(v) ? v : []);
export const entries = (v: unknown): [string, any][] => (isObj(v) ? Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)) : []);

/** A value already rendered the way Go would print it (e.g. a struct in field order). */
export class Rendered {
  constructor(readonly text: string) {}
}

/** Go's strconv.Quote, which `%q` uses. */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '"' || ch === '\\') out += `\\${ch}`;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\r') out += '\\r';
    else if (c < 0x20 || c === 0x7f) out += `\\x${c.toString(16).padStart(2, '0')}`;
    else out += ch;
  }
  return `${out}"`;
}

/** JSON as Go's encoding/json writes a map: keys sorted. */
export function goJson(v: unknown): string {
  if (v instanceof Rendered) return v.text;
  if (Array.isArray(v)) return `[${v.map((x) => (x === undefined ? 'null' : goJson(x))).join(',')}]`;
  if (isObj(v)) return `{${entries(v).filter(([, x]) => x !== undefined).map(([k, x]) => `${JSON.stringify(k)}:${goJson(x)}`).join(',')}}`;
  return v === undefined ? 'null' : JSON.stringify(v);
}

/** How field.Error prints a bad value: strings quoted, scalars bare, anything else as JSON. */
export function formatValue(v: unknown): string {
  if (typeof v === 'string') return goQuote(v);
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (v === undefined || v === null) return 'null';
  return goJson(v);
}

const withDetail = (body: string, detail: string): string => (detail ? `${body}: ${detail}` : body);
const err = (reason: string, field: string, message: string): FieldError => ({ reason, field, message });

export const required = (field: string, detail = ''): FieldError => err('FieldValueRequired', field, withDetail('Required value', detail));
export const forbidden = (field: string, detail: string): FieldError => err('FieldValueForbidden', field, withDetail('Forbidden', detail));
export const invalid = (field: string, value: unknown, detail: string): FieldError =>
  err('FieldValueInvalid', field, withDetail(`Invalid value: ${formatValue(value)}`, detail));
export const typeInvalid = (field: string, value: unknown, type: string): FieldError =>
  err('FieldValueTypeInvalid', field, `Invalid value: ${formatValue(value)}: must be of type ${type}`);
export const duplicate = (field: string, value: unknown): FieldError => err('FieldValueDuplicate', field, `Duplicate value: ${formatValue(value)}`);
export const notFound = (field: string, value: unknown): FieldError => err('FieldValueNotFound', field, `Not found: ${formatValue(value)}`);
export const notSupported = (field: string, value: unknown, valid: readonly string[]): FieldError =>
  err('FieldValueNotSupported', field, withDetail(`Unsupported value: ${formatValue(value)}`, valid.length ? `supported values: ${valid.map(goQuote).join(', ')}` : ''));
export const tooLong = (field: string, max: number): FieldError =>
  err('FieldValueTooLong', field, `Too long: may not be more than ${max} ${max === 1 ? 'byte' : 'bytes'}`);

/** Each message of a name check as an Invalid error on `field`. */
export const invalidEach = (field: string, value: unknown, msgs: string[]): FieldError[] => msgs.map((m) => invalid(field, value, m));

/**
 * Reads an optional integer field: undefined when absent, the number when it is one,
 * and a type error pushed (then undefined) when the JSON carried something else.
 */
export function optInt(errs: FieldError[], field: string, v: unknown): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  errs.push(typeInvalid(field, v, 'integer'));
  return undefined;
}

export function nonNegative(errs: FieldError[], field: string, v: unknown): void {
  const n = optInt(errs, field, v);
  if (n !== undefined && n < 0) errs.push(invalid(field, n, 'must be greater than or equal to 0'));
}

/** An enum field SetDefaults fills: `Required` when empty, `Unsupported` outside `valid`. */
export function enumField(errs: FieldError[], field: string, v: unknown, valid: readonly string[]): void {
  if (v === undefined || v === null || v === '') errs.push(required(field));
  else if (!valid.includes(v as string)) errs.push(notSupported(field, v, valid));
}

/** Deep equality of JSON values, ignoring key order and keys whose value is undefined. */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) || Array.isArray(b)) return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => jsonEqual(x, b[i]));
  if (!isObj(a) || !isObj(b)) return false;
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].every((k) => jsonEqual(a[k], b[k]));
}

// ---- apimachinery util/validation ------------------------------------------------------

export function regexError(msg: string, fmt: string, ...examples: string[]): string {
  if (!examples.length) return `${msg} (regex used for validation is '${fmt}')`;
  return `${msg} (e.g. ${examples.map((e) => `'${e}', `).join(' or ')}regex used for validation is '${fmt}')`;
}
const maxLen = (n: number): string => `must be no more than ${n} characters`;

const DNS1123_LABEL = '[a-z0-9]([-a-z0-9]*[a-z0-9])?';
const DNS1123_SUBDOMAIN = `${DNS1123_LABEL}(\\.${DNS1123_LABEL})*`;
const DNS1035_LABEL = '[a-z]([-a-z0-9]*[a-z0-9])?';
const LABEL_KEY = '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]';
const LABEL_VALUE = `(${LABEL_KEY})?`;
const anchored = (f: string): RegExp => new RegExp(`^(?:${f})$`);
const RE = {
  label: anchored(DNS1123_LABEL),
  subdomain: anchored(DNS1123_SUBDOMAIN),
  dns1035: anchored(DNS1035_LABEL),
  key: anchored(LABEL_KEY),
  value: anchored(LABEL_VALUE),
};

export function isDNS1123Label(v: string): string[] {
  const out: string[] = [];
  if (v.length > 63) out.push(maxLen(63));
  if (!RE.label.test(v)) {
    out.push(RE.subdomain.test(v) ? 'must not contain dots' : regexError("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character", DNS1123_LABEL, 'my-name', '123-abc'));
  }
  return out;
}

export function isDNS1123Subdomain(v: string): string[] {
  const out: string[] = [];
  if (v.length > 253) out.push(maxLen(253));
  if (!RE.subdomain.test(v)) {
    out.push(regexError("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character", DNS1123_SUBDOMAIN, 'example.com'));
  }
  return out;
}

export function isDNS1035Label(v: string): string[] {
  const out: string[] = [];
  if (v.length > 63) out.push(maxLen(63));
  if (!RE.dns1035.test(v)) {
    out.push(regexError("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character", DNS1035_LABEL, 'my-name', 'abc-123'));
  }
  return out;
}

const LABEL_KEY_MSG = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";

/** A "qualified name" (label key, annotation key, finalizer): optional DNS-subdomain prefix and '/'. */
export function isQualifiedName(v: string): string[] {
  const out: string[] = [];
  const parts = v.split('/');
  if (parts.length > 2) {
    return [`a valid label key ${regexError(LABEL_KEY_MSG, LABEL_KEY, 'MyName', 'my.name', '123-abc')} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')`];
  }
  const name = parts[parts.length - 1];
  if (parts.length === 2) {
    if (!parts[0]) out.push('prefix part must be non-empty');
    else out.push(...isDNS1123Subdomain(parts[0]).map((m) => `prefix part ${m}`));
  }
  if (!name) out.push('name part must be non-empty');
  else if (name.length > 63) out.push(`name part ${maxLen(63)}`);
  if (!RE.key.test(name)) out.push(`name part ${regexError(LABEL_KEY_MSG, LABEL_KEY, 'MyName', 'my.name', '123-abc')}`);
  return out;
}

export function isLabelValue(v: string): string[] {
  const out: string[] = [];
  if (v.length > 63) out.push(maxLen(63));
  if (!RE.value.test(v)) {
    out.push(regexError("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character", LABEL_VALUE, 'MyValue', 'my_value', '12345'));
  }
  return out;
}

/** IANA_SVC_NAME: what container port names must be. */
export function isValidPortName(v: string): string[] {
  const out: string[] = [];
  if (v.length > 15) out.push(maxLen(15));
  if (!/^[-a-z0-9]+$/.test(v)) out.push('must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)');
  if (!/[a-z]/.test(v)) out.push('must contain at least one letter (a-z)');
  if (v.includes('--')) out.push('must not contain consecutive hyphens');
  if (v.startsWith('-') || v.endsWith('-')) out.push('must not begin or end with a hyphen');
  return out;
}

export const isValidPortNum = (n: number): string[] => (n >= 1 && n <= 65535 ? [] : ['must be between 1 and 65535, inclusive']);

/** An int or a port name (probes' port, a Service's targetPort), as ValidatePortNumOrName. */
export function validatePortNumOrName(errs: FieldError[], field: string, v: unknown): void {
  if (typeof v === 'number') errs.push(...invalidEach(field, v, Number.isInteger(v) ? isValidPortNum(v) : ['must be an integer']));
  else if (typeof v === 'string') errs.push(...invalidEach(field, v, isValidPortName(v)));
  else errs.push(v === undefined || v === null ? required(field) : typeInvalid(field, v, 'integer or string'));
}

// ---- ObjectMeta ------------------------------------------------------------------------

/** A name rule: messages for `name`; `prefix` means it is a generateName (a suffix follows). */
export type NameFn = (name: string, prefix: boolean) => string[];
// apimachinery masks a trailing dash of a prefix by replacing the last *two* characters.
const mask = (name: string, prefix: boolean): string => (prefix && name.length > 1 && name.endsWith('-') ? `${name.slice(0, -2)}a` : name);
export const nameIsDNSSubdomain: NameFn = (n, p) => isDNS1123Subdomain(mask(n, p));
export const nameIsDNSLabel: NameFn = (n, p) => isDNS1123Label(mask(n, p));
export const nameIsDNS1035Label: NameFn = (n, p) => isDNS1035Label(mask(n, p));

const STANDARD_FINALIZERS = new Set(['kubernetes', 'orphan', 'foregroundDeletion']);
const MAX_ANNOTATIONS_BYTES = 256 * 1024;

export function validateLabels(errs: FieldError[], field: string, labels: unknown): void {
  if (labels === undefined || labels === null) return;
  if (!isObj(labels)) return void errs.push(typeInvalid(field, labels, 'object'));
  for (const [k, v] of entries(labels)) {
    errs.push(...invalidEach(field, k, isQualifiedName(k)));
    if (typeof v !== 'string') errs.push(typeInvalid(field, v, 'string'));
    else errs.push(...invalidEach(field, v, isLabelValue(v)));
  }
}

export function validateAnnotations(errs: FieldError[], field: string, annotations: unknown): void {
  if (annotations === undefined || annotations === null) return;
  if (!isObj(annotations)) return void errs.push(typeInvalid(field, annotations, 'object'));
  let size = 0;
  for (const [k, v] of entries(annotations)) {
    // Annotation keys are qualified names in any case.
    errs.push(...invalidEach(field, k, isQualifiedName(k.toLowerCase())));
    if (typeof v !== 'string') errs.push(typeInvalid(field, v, 'string'));
    size += Buffer.byteLength(k) + Buffer.byteLength(String(v));
  }
  if (size > MAX_ANNOTATIONS_BYTES) errs.push(tooLong(field, MAX_ANNOTATIONS_BYTES));
}

/** Labels, annotations, owner references, finalizers, generation: shared by create and update. */
function validateMetaCommon(errs: FieldError[], meta: Obj, path: string): void {
  nonNegative(errs, `${path}.generation`, meta.generation);
  validateLabels(errs, `${path}.labels`, meta.labels);
  validateAnnotations(errs, `${path}.annotations`, meta.annotations);
  let controller = '';
  for (const ref of list(meta.ownerReferences).filter(isObj)) {
    const p = `${path}.ownerReferences`;
    const version = String(ref.apiVersion ?? '').split('/').pop();
    if (!version) errs.push(invalid(`${p}.apiVersion`, ref.apiVersion ?? '', 'version must not be empty'));
    for (const f of ['kind', 'name', 'uid']) if (!ref[f]) errs.push(invalid(`${p}.${f}`, ref[f] ?? '', 'must not be empty'));
    if (ref.controller === true) {
      const current = `${ref.kind}/${ref.name}`;
      if (controller) {
        errs.push(invalid(p, meta.ownerReferences, `Only one reference can have Controller set to true. Found "true" in references for ${controller} and ${current}`));
      } else controller = current;
    }
  }
  const finalizers = list(meta.finalizers);
  finalizers.forEach((f, i) => {
    const name = String(f);
    errs.push(...invalidEach(`${path}.finalizers`, name, isQualifiedName(name)));
    if (!name.includes('/') && !STANDARD_FINALIZERS.has(name)) {
      errs.push(invalid(`${path}.finalizers[${i}]`, name, 'name is neither a standard finalizer name nor is it fully qualified'));
    }
  });
  if (finalizers.includes('orphan') && finalizers.includes('foregroundDeletion')) {
    errs.push(invalid(`${path}.finalizers`, finalizers, 'finalizer orphan and foregroundDeletion cannot be both set'));
  }
}

/**
 * ObjectMeta on create. Expects name generation to have happened already: an empty name
 * is `Required`, and the name (and a generateName prefix) must satisfy `nameFn`.
 */
export function validateObjectMeta(meta: unknown, namespaced: boolean, nameFn: NameFn, path = 'metadata'): FieldError[] {
  const errs: FieldError[] = [];
  if (!isObj(meta)) return [required(`${path}.name`, 'name or generateName is required')];
  if (typeof meta.generateName === 'string' && meta.generateName) {
    errs.push(...invalidEach(`${path}.generateName`, meta.generateName, nameFn(meta.generateName, true)));
  }
  if (typeof meta.name !== 'string' || !meta.name) errs.push(required(`${path}.name`, 'name or generateName is required'));
  else errs.push(...invalidEach(`${path}.name`, meta.name, nameFn(meta.name, false)));
  if (namespaced) {
    if (typeof meta.namespace !== 'string' || !meta.namespace) errs.push(required(`${path}.namespace`));
    else errs.push(...invalidEach(`${path}.namespace`, meta.namespace, isDNS1123Label(meta.namespace)));
  } else if (meta.namespace) {
    errs.push(forbidden(`${path}.namespace`, 'not allowed on this type'));
  }
  validateMetaCommon(errs, meta, path);
  return errs;
}

/** ObjectMeta on update: identity fields are immutable, the rest validated as on create. */
export function validateObjectMetaUpdate(meta: unknown, old: unknown, path = 'metadata'): FieldError[] {
  const errs: FieldError[] = [];
  const m = isObj(meta) ? meta : {};
  const o = isObj(old) ? old : {};
  if (o.deletionTimestamp) {
    const added = list(m.finalizers).filter((f) => !list(o.finalizers).includes(f));
    if (added.length) {
      errs.push(forbidden(`${path}.finalizers`, `no new finalizers can be added if the object is being deleted, found new finalizers []string{${[...new Set(added)].sort().map((f) => goQuote(String(f))).join(', ')}}`));
    }
  }
  if (typeof m.generation === 'number' && typeof o.generation === 'number' && m.generation < o.generation) {
    errs.push(invalid(`${path}.generation`, m.generation, 'must not be decremented'));
  }
  for (const f of ['name', 'namespace', 'uid', 'creationTimestamp']) {
    // Absent and empty are the same value to Go's string fields.
    if ((m[f] ?? '') !== (o[f] ?? '')) errs.push(invalid(`${path}.${f}`, m[f] ?? '', 'field is immutable'));
  }
  validateMetaCommon(errs, m, path);
  return errs;
}
