/**
 * Field selectors (`?fieldSelector=spec.nodeName=n1,status.phase!=Failed`):
 * parsing with apimachinery's escaping rules, the per-resource set of
 * selectable fields, and matching against stored objects.
 */

import { badRequest } from '../../common/errors.js';

export interface FieldRequirement {
  field: string;
  operator: '=' | '!=';
  /** Unescaped value. */
  value: string;
}

/** AND of requirements. Empty matches everything. */
export type FieldSelector = FieldRequirement[];

type Getter = (obj: Record<string, unknown>) => string;

/** Reads a dotted path; absent or non-scalar values read as "". */
function at(...path: string[]): Getter {
  return (obj) => str(dig(obj, path));
}

function dig(obj: unknown, path: readonly string[]): unknown {
  let cur = obj;
  for (const p of path) {
    if (typeof cur !== 'object' || cur === null || Array.isArray(cur)) return undefined;
    cur = (cur as Record<string, unknown>)[p];
  }
  return cur;
}

function str(v: unknown): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return '';
}

/** Booleans render as Go's strconv.FormatBool of the struct field: absent is "false". */
function bool(...path: string[]): Getter {
  return (obj) => (dig(obj, path) === true ? 'true' : 'false');
}

/** Integers render as strconv.Itoa: absent is "0". */
function int(...path: string[]): Getter {
  return (obj) => {
    const v = dig(obj, path);
    return typeof v === 'number' ? String(v) : '0';
  };
}

/**
 * Event fields. events.k8s.io/v1 objects name them differently (`regarding`,
 * `reportingController`, `deprecatedSource`); fall back to those so one
 * selector works for both shapes.
 */
function eventObject(field: string): Getter {
  return (obj) => str(dig(obj, ['involvedObject', field]) ?? dig(obj, ['regarding', field]));
}

const COMMON: Record<string, Getter> = {
  'metadata.name': at('metadata', 'name'),
  'metadata.namespace': at('metadata', 'namespace'),
};

/** Selectable fields per resource plural, beyond metadata.name and metadata.namespace. */
const FIELDS: Record<string, Record<string, Getter>> = {
  pods: {
    'spec.nodeName': at('spec', 'nodeName'),
    'spec.restartPolicy': at('spec', 'restartPolicy'),
    'spec.schedulerName': at('spec', 'schedulerName'),
    'spec.serviceAccountName': at('spec', 'serviceAccountName'),
    'spec.hostNetwork': bool('spec', 'hostNetwork'),
    'status.phase': at('status', 'phase'),
    'status.podIP': at('status', 'podIP'),
    'status.nominatedNodeName': at('status', 'nominatedNodeName'),
  },
  events: {
    'involvedObject.kind': eventObject('kind'),
    'involvedObject.namespace': eventObject('namespace'),
    'involvedObject.name': eventObject('name'),
    'involvedObject.uid': eventObject('uid'),
    'involvedObject.apiVersion': eventObject('apiVersion'),
    'involvedObject.resourceVersion': eventObject('resourceVersion'),
    'involvedObject.fieldPath': eventObject('fieldPath'),
    reason: at('reason'),
    reportingComponent: (o) => str(dig(o, ['reportingComponent']) ?? dig(o, ['reportingController'])),
    source: (o) => str(dig(o, ['source', 'component']) ?? dig(o, ['deprecatedSource', 'component'])),
    type: at('type'),
  },
  secrets: { type: at('type') },
  nodes: { 'spec.unschedulable': bool('spec', 'unschedulable') },
  namespaces: { 'status.phase': at('status', 'phase') },
  replicasets: { 'status.replicas': int('status', 'replicas') },
};

function getter(plural: string, field: string): Getter | undefined {
  const own = Object.prototype.hasOwnProperty;
  if (own.call(COMMON, field)) return COMMON[field];
  const fields = own.call(FIELDS, plural) ? FIELDS[plural] : undefined;
  return fields && own.call(fields, field) ? fields[field] : undefined;
}

/** The fields `plural` can be selected on, for documentation and errors. */
export function selectableFields(plural: string): string[] {
  return [...Object.keys(COMMON), ...Object.keys(FIELDS[plural] ?? {})];
}

/** Splits on commas not escaped by a backslash; escapes are kept for unescapeValue. */
function splitTerms(s: string): string[] {
  const terms: string[] = [];
  let start = 0;
  let escaped = false;
  for (let i = 0; i < s.length; i++) {
    if (escaped) escaped = false;
    else if (s[i] === '\\') escaped = true;
    else if (s[i] === ',') {
      terms.push(s.slice(start, i));
      start = i + 1;
    }
  }
  terms.push(s.slice(start));
  return terms;
}

/** Splits at the first operator; the field name has no escaping, so the first `!=`, `==` or `=` wins. */
function splitTerm(term: string): [string, '=' | '!=', string] | undefined {
  for (let i = 0; i < term.length; i++) {
    if (term.startsWith('!=', i)) return [term.slice(0, i), '!=', term.slice(i + 2)];
    if (term.startsWith('==', i)) return [term.slice(0, i), '=', term.slice(i + 2)];
    if (term[i] === '=') return [term.slice(0, i), '=', term.slice(i + 1)];
  }
  return undefined;
}

/** `\\`, `\,` and `\=` are the only escapes; bare `,` or `=` in a value are errors. */
function unescapeValue(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '\\') {
      const n = s[i + 1];
      if (n === '\\' || n === ',' || n === '=') {
        out += n;
        i++;
        continue;
      }
      throw badRequest(`invalid field selector: invalid escape sequence: \\${n ?? ''}`);
    }
    if (c === ',' || c === '=') throw badRequest(`invalid field selector: unescaped character in value: ${c}`);
    out += c;
  }
  return out;
}

/**
 * Parses the `fieldSelector` query parameter for resource `plural`. The empty
 * string selects everything. Throws StatusError 400 for syntax errors and for
 * `field label not supported: <field>`.
 */
export function parseFieldSelector(s: string, plural: string): FieldSelector {
  const sel: FieldSelector = [];
  for (const term of s === '' ? [] : splitTerms(s)) {
    if (term === '') continue;
    const parts = splitTerm(term);
    if (!parts) throw badRequest(`invalid selector: '${s}'; can't understand '${term}'`);
    const [field, operator, raw] = parts;
    const value = unescapeValue(raw);
    if (!getter(plural, field)) throw badRequest(`field label not supported: ${field}`);
    sel.push({ field, operator, value });
  }
  return sel;
}

/**
 * Whether `obj` (a stored object of resource `plural`) satisfies every
 * requirement. Missing values read as "", except booleans ("false") and
 * counts ("0"), which Kubernetes renders from Go zero values.
 */
export function matchesFields(sel: FieldSelector, plural: string, obj: Record<string, unknown>): boolean {
  return sel.every((r) => {
    const get = getter(plural, r.field);
    // Parsed selectors only hold supported fields; an unknown one cannot match.
    if (!get) return false;
    const actual = get(obj);
    return r.operator === '=' ? actual === r.value : actual !== r.value;
  });
}

/** X when the selector is exactly `metadata.name=X` (how kubectl watches one object); otherwise undefined. */
export function exactName(sel: FieldSelector): string | undefined {
  if (sel.length !== 1) return undefined;
  const [r] = sel;
  return r.field === 'metadata.name' && r.operator === '=' ? r.value : undefined;
}

function escapeValue(v: string): string {
  return v.replace(/[\\,=]/g, (c) => `\\${c}`);
}

/** Canonical string form (terms sorted, values escaped), e.g. for logs and watch cache keys. */
export function fieldSelectorToString(sel: FieldSelector): string {
  return sel
    .map((r) => `${r.field}${r.operator}${escapeValue(r.value)}`)
    .sort()
    .join(',');
}
