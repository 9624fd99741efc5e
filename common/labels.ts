/**
 * Kubernetes label selectors: the `labelSelector` query string
 * (`app=web,tier in (fe,be),!canary`) and the `LabelSelector` object of
 * controllers (`matchLabels` + `matchExpressions`), with apimachinery's
 * grammar, validation and error messages.
 */

import { badRequest } from './errors.js';

export type Operator = 'In' | 'NotIn' | 'Exists' | 'DoesNotExist' | 'Equals' | 'NotEquals' | 'GreaterThan' | 'LessThan';

export interface Requirement {
  key: string;
  operator: Operator;
  /** One value for Equals/NotEquals/GreaterThan/LessThan, one or more for In/NotIn, none otherwise. */
  values: string[];
}

/** AND of requirements, sorted by key. Empty matches everything. */
export type Selector = Requirement[];

export interface LabelSelectorRequirement {
  key: string;
  operator: string;
  values?: string[];
}

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: LabelSelectorRequirement[];
}

// ---- validation (apimachinery util/validation) ----

const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

const QUALIFIED_NAME_MSG =
  "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character " +
  "(e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
const DNS1123_SUBDOMAIN_MSG =
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end " +
  "with an alphanumeric character (e.g. 'example.com', regex used for validation is " +
  "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const LABEL_VALUE_MSG =
  "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end " +
  "with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is " +
  "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";

/** Problems with a qualified name (`[prefix/]name`, e.g. a label key); empty when valid. */
export function qualifiedNameErrors(value: string): string[] {
  const errs: string[] = [];
  const parts = value.split('/');
  let name: string;
  if (parts.length === 1) {
    name = parts[0];
  } else if (parts.length === 2) {
    const prefix = parts[0];
    name = parts[1];
    if (prefix.length === 0) errs.push('prefix part must be non-empty');
    else if (prefix.length > 253) errs.push('prefix part must be no more than 253 characters');
    else if (!DNS1123_SUBDOMAIN.test(prefix)) errs.push(`prefix part ${DNS1123_SUBDOMAIN_MSG}`);
  } else {
    return [`a qualified name ${QUALIFIED_NAME_MSG} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')`];
  }
  if (name.length === 0) errs.push('name part must be non-empty');
  else if (name.length > 63) errs.push('name part must be no more than 63 characters');
  if (!QUALIFIED_NAME.test(name)) errs.push(`name part ${QUALIFIED_NAME_MSG}`);
  return errs;
}

/** Problems with a label value; empty when valid (the empty string is valid). */
export function labelValueErrors(value: string): string[] {
  const errs: string[] = [];
  if (value.length > 63) errs.push('must be no more than 63 characters');
  if (!LABEL_VALUE.test(value)) errs.push(LABEL_VALUE_MSG);
  return errs;
}

class SelectorSyntaxError extends Error {}

function checkKey(key: string): void {
  const errs = qualifiedNameErrors(key);
  if (errs.length) throw new SelectorSyntaxError(`key: Invalid value: ${JSON.stringify(key)}: ${errs.join('; ')}`);
}

/** Validates and builds a requirement, as apimachinery's NewRequirement. */
function newRequirement(key: string, operator: Operator, values: string[]): Requirement {
  checkKey(key);
  switch (operator) {
    case 'In':
    case 'NotIn':
      if (values.length === 0) throw new SelectorSyntaxError("values: Invalid value: []: for 'in', 'notin' operators, values set can't be empty");
      break;
    case 'Equals':
    case 'NotEquals':
      if (values.length !== 1) throw new SelectorSyntaxError('values: Invalid value: exact-match compatibility requires one single value');
      break;
    case 'Exists':
    case 'DoesNotExist':
      if (values.length !== 0) throw new SelectorSyntaxError('values: Invalid value: values set must be empty for exists and does not exist');
      break;
    case 'GreaterThan':
    case 'LessThan':
      if (values.length !== 1) throw new SelectorSyntaxError("values: Invalid value: for 'Gt', 'Lt' operators, exactly one value is required");
      if (parseInt64(values[0]) === undefined) {
        throw new SelectorSyntaxError(`values[0]: Invalid value: ${JSON.stringify(values[0])}: for 'Gt', 'Lt' operators, the value must be an integer`);
      }
      break;
  }
  values.forEach((v, i) => {
    const errs = labelValueErrors(v);
    if (errs.length) throw new SelectorSyntaxError(`values[${i}][${key}]: Invalid value: ${JSON.stringify(v)}: ${errs.join('; ')}`);
  });
  return { key, operator, values };
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** Go's strconv.ParseInt(s, 10, 64): optional sign, decimal digits, 64-bit range. */
function parseInt64(s: string): bigint | undefined {
  if (!/^[+-]?[0-9]+$/.test(s)) return undefined;
  const n = BigInt(s);
  return n < INT64_MIN || n > INT64_MAX ? undefined : n;
}

const byKey = (a: Requirement, b: Requirement): number => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
const uniqueSorted = (values: string[]): string[] => [...new Set(values)].sort();

// ---- the string form: lexer and parser ----

type Tok = 'id' | 'eos' | '(' | ')' | ',' | '!' | '=' | '==' | '!=' | '>' | '<' | 'in' | 'notin';
interface Token {
  tok: Tok;
  lit: string;
}

const SYMBOLS = new Set(['=', '!', '(', ')', ',', '>', '<']);
const SYMBOL_TOKENS = new Set(['(', ')', ',', '!', '=', '==', '!=', '>', '<']);
const isSpace = (c: string): boolean => c === ' ' || c === '\t' || c === '\r' || c === '\n';

function lex(s: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  for (;;) {
    while (i < s.length && isSpace(s[i])) i++;
    if (i >= s.length) {
      out.push({ tok: 'eos', lit: '' });
      return out;
    }
    if (SYMBOLS.has(s[i])) {
      // Longest run of symbol characters that still forms an operator ("!=" rather than "!").
      let best = '';
      let j = i;
      while (j < s.length && SYMBOLS.has(s[j]) && SYMBOL_TOKENS.has(s.slice(i, j + 1))) best = s.slice(i, ++j);
      if (!best) throw new SelectorSyntaxError(`error expected: keyword found '${s[i]}'`);
      out.push({ tok: best as Tok, lit: best });
      i = j;
      continue;
    }
    let j = i;
    while (j < s.length && !SYMBOLS.has(s[j]) && !isSpace(s[j])) j++;
    const word = s.slice(i, j);
    out.push({ tok: word === 'in' || word === 'notin' ? word : 'id', lit: word });
    i = j;
  }
}

class Parser {
  private pos = 0;
  constructor(private readonly items: Token[]) {}

  /** In value position the keywords `in`/`notin` are plain identifiers (`x in (in)`). */
  private peek(values = true): Token {
    const t = this.items[this.pos];
    return values && (t.tok === 'in' || t.tok === 'notin') ? { tok: 'id', lit: t.lit } : t;
  }

  private next(values = true): Token {
    const t = this.peek(values);
    this.pos++;
    return t;
  }

  parse(): Requirement[] {
    const reqs: Requirement[] = [];
    for (;;) {
      const t = this.peek();
      if (t.tok === 'eos') return reqs;
      if (t.tok !== 'id' && t.tok !== '!') throw new Error(`found '${t.lit}', expected: !, identifier, or 'end of string'`);
      try {
        reqs.push(this.requirement());
      } catch (e) {
        if (e instanceof SelectorSyntaxError) throw new Error(`unable to parse requirement: ${e.message}`);
        throw e;
      }
      const after = this.next();
      if (after.tok === 'eos') return reqs;
      if (after.tok !== ',') throw new Error(`found '${after.lit}', expected: ',' or 'end of string'`);
      const t2 = this.peek();
      if (t2.tok !== 'id' && t2.tok !== '!') throw new Error(`found '${t2.lit}', expected: identifier after ','`);
    }
  }

  private requirement(): Requirement {
    let t = this.next();
    const negated = t.tok === '!';
    if (negated) t = this.next();
    if (t.tok !== 'id') throw new SelectorSyntaxError(`found '${t.lit}', expected: identifier`);
    const key = t.lit;
    checkKey(key);
    const la = this.peek().tok;
    if (negated || la === 'eos' || la === ',') {
      // `!k` takes no operator; a following token is reported by the caller.
      return newRequirement(key, negated ? 'DoesNotExist' : 'Exists', []);
    }
    const op = this.next(false);
    switch (op.tok) {
      case 'in':
        return newRequirement(key, 'In', this.valueSet());
      case 'notin':
        return newRequirement(key, 'NotIn', this.valueSet());
      case '=':
      case '==':
        return newRequirement(key, 'Equals', [this.exactValue()]);
      case '!=':
        return newRequirement(key, 'NotEquals', [this.exactValue()]);
      case '>':
        return newRequirement(key, 'GreaterThan', [this.exactValue()]);
      case '<':
        return newRequirement(key, 'LessThan', [this.exactValue()]);
      default:
        throw new SelectorSyntaxError(`found '${op.lit}', expected: '=', '!=', '==', 'in', notin'`);
    }
  }

  /** `(a,b,c)`; empty members are empty-string values, as in Kubernetes (`x in (,a)`). */
  private valueSet(): string[] {
    const open = this.next();
    if (open.tok !== '(') throw new SelectorSyntaxError(`found '${open.lit}' expected: '('`);
    const values: string[] = [];
    let expectValue = true;
    for (;;) {
      const t = this.next();
      if (t.tok === 'id' && expectValue) {
        values.push(t.lit);
        expectValue = false;
      } else if (t.tok === ',') {
        if (expectValue) values.push('');
        expectValue = true;
      } else if (t.tok === ')') {
        if (expectValue) values.push('');
        return uniqueSorted(values);
      } else {
        const want = expectValue ? "',', ')' or identifier" : "',' or ')'";
        throw new SelectorSyntaxError(`found '${t.lit}', expected: ${want}`);
      }
    }
  }

  /** The value after `=`, `==`, `!=`, `>`, `<`; absent means the empty string (`k=`). */
  private exactValue(): string {
    const t = this.peek();
    if (t.tok === 'eos' || t.tok === ',') return '';
    this.next();
    if (t.tok !== 'id') throw new SelectorSyntaxError(`found '${t.lit}', expected: identifier`);
    return t.lit;
  }
}

/**
 * Parses the `labelSelector` query parameter. The empty string (or only
 * whitespace) selects everything. Throws StatusError 400 with apimachinery's
 * wording, e.g. `unable to parse requirement: found '', expected: ',', ')' or identifier`.
 */
export function parseLabelSelector(s: string): Selector {
  let reqs: Requirement[];
  try {
    reqs = new Parser(lex(s)).parse();
  } catch (e) {
    const msg = e instanceof SelectorSyntaxError ? `unable to parse requirement: ${e.message}` : (e as Error).message;
    throw badRequest(msg);
  }
  return reqs.sort(byKey);
}

const EXPRESSION_OPERATORS: Record<string, Operator> = { In: 'In', NotIn: 'NotIn', Exists: 'Exists', DoesNotExist: 'DoesNotExist' };

/**
 * Converts a LabelSelector object. `null`/`undefined` returns null, meaning
 * "matches nothing" (a controller without a selector selects no pods); `{}`
 * returns [] (everything). Invalid keys, values or operators throw 400.
 */
export function selectorFromObject(sel: LabelSelector | null | undefined): Selector | null {
  if (sel === null || sel === undefined) return null;
  const reqs: Requirement[] = [];
  try {
    for (const [k, v] of Object.entries(sel.matchLabels ?? {})) {
      reqs.push(newRequirement(k, 'Equals', [String(v)]));
    }
    for (const expr of sel.matchExpressions ?? []) {
      const op = Object.prototype.hasOwnProperty.call(EXPRESSION_OPERATORS, expr.operator) ? EXPRESSION_OPERATORS[expr.operator] : undefined;
      if (!op) throw new SelectorSyntaxError(`${JSON.stringify(expr.operator)} is not a valid label selector operator`);
      reqs.push(newRequirement(expr.key, op, [...(expr.values ?? [])]));
    }
  } catch (e) {
    if (e instanceof SelectorSyntaxError) throw badRequest(`invalid label selector: ${e.message}`);
    throw e;
  }
  return reqs.sort(byKey);
}

function matchesOne(r: Requirement, labels: Record<string, string>): boolean {
  const has = Object.prototype.hasOwnProperty.call(labels, r.key);
  const v = has ? labels[r.key] : undefined;
  switch (r.operator) {
    case 'In':
    case 'Equals':
      return has && r.values.includes(v as string);
    case 'NotIn':
    case 'NotEquals':
      return !has || !r.values.includes(v as string);
    case 'Exists':
      return has;
    case 'DoesNotExist':
      return !has;
    case 'GreaterThan':
    case 'LessThan': {
      if (!has) return false;
      const actual = parseInt64(v as string);
      const bound = parseInt64(r.values[0] ?? '');
      if (actual === undefined || bound === undefined) return false;
      return r.operator === 'GreaterThan' ? actual > bound : actual < bound;
    }
  }
}

/** Whether `labels` satisfy every requirement. Absent labels are an empty set. */
export function matches(sel: Selector, labels: Record<string, string> | undefined): boolean {
  const ls = labels ?? {};
  return sel.every((r) => matchesOne(r, ls));
}

function requirementToString(r: Requirement): string {
  const vals = () => uniqueSorted(r.values).join(',');
  switch (r.operator) {
    case 'Exists':
      return r.key;
    case 'DoesNotExist':
      return `!${r.key}`;
    case 'Equals':
      return `${r.key}=${r.values[0] ?? ''}`;
    case 'NotEquals':
      return `${r.key}!=${r.values[0] ?? ''}`;
    case 'GreaterThan':
      return `${r.key}>${r.values[0] ?? ''}`;
    case 'LessThan':
      return `${r.key}<${r.values[0] ?? ''}`;
    case 'In':
      return `${r.key} in (${vals()})`;
    case 'NotIn':
      return `${r.key} notin (${vals()})`;
  }
}

/**
 * Canonical string form, as `labels.Selector.String()`: requirements sorted by
 * key, set values sorted, joined by commas (`app=web,tier in (be,fe)`). The
 * result parses back to an equivalent selector; [] gives "".
 */
export function selectorToString(sel: Selector): string {
  return [...sel].sort(byKey).map(requirementToString).join(',');
}
