/**
 * Node selector terms (`requiredDuringScheduling...nodeSelectorTerms`,
 * preferred `preference`s) compiled to predicates over a NodeInfo, with the
 * semantics of Kubernetes' component-helpers nodeaffinity package:
 * - terms are ORed, a term's matchExpressions and matchFields are ANDed;
 * - an empty term, or one with an invalid requirement, matches no node;
 * - In/NotIn need values, Exists/DoesNotExist none, Gt/Lt one integer compared
 *   with the label parsed as an integer;
 * - matchFields supports `metadata.name` with In/NotIn.
 */
import type { V1NodeSelectorRequirement, V1NodeSelectorTerm, V1PodSpec } from '@kubernetes/client-node';
import type { NodeInfo } from '../nodeinfo.js';

export type NodePredicate = (node: NodeInfo) => boolean;

const NEVER: NodePredicate = () => false;
const INT = /^[+-]?\d+$/;

/** One label requirement, or undefined when it is invalid. */
function labelRequirement(r: V1NodeSelectorRequirement): ((labels: Record<string, string>) => boolean) | undefined {
  const key = r.key;
  const values = r.values ?? [];
  switch (r.operator) {
    case 'In':
      if (!values.length) return undefined;
      return (l) => Object.prototype.hasOwnProperty.call(l, key) && values.includes(l[key]);
    case 'NotIn':
      if (!values.length) return undefined;
      return (l) => !Object.prototype.hasOwnProperty.call(l, key) || !values.includes(l[key]);
    case 'Exists':
      if (values.length) return undefined;
      return (l) => Object.prototype.hasOwnProperty.call(l, key);
    case 'DoesNotExist':
      if (values.length) return undefined;
      return (l) => !Object.prototype.hasOwnProperty.call(l, key);
    case 'Gt':
    case 'Lt': {
      if (values.length !== 1 || !INT.test(values[0])) return undefined;
      const bound = BigInt(values[0]);
      const gt = r.operator === 'Gt';
      return (l) => {
        const v = l[key];
        if (v === undefined || !INT.test(v)) return false;
        const n = BigInt(v);
        return gt ? n > bound : n < bound;
      };
    }
    default:
      return undefined;
  }
}

/** One field requirement (only metadata.name exists for nodes), or undefined when invalid. */
function fieldRequirement(r: V1NodeSelectorRequirement): NodePredicate | undefined {
  if (r.key !== 'metadata.name') return undefined;
  const values = r.values ?? [];
  if (!values.length) return undefined;
  if (r.operator === 'In') return (n) => values.includes(n.name);
  if (r.operator === 'NotIn') return (n) => !values.includes(n.name);
  return undefined;
}

/** Compiles one term; an empty or invalid term matches nothing. */
export function compileTerm(term: V1NodeSelectorTerm | undefined): NodePredicate {
  const exprs = term?.matchExpressions ?? [];
  const fields = term?.matchFields ?? [];
  if (!exprs.length && !fields.length) return NEVER;
  const labelPreds: ((l: Record<string, string>) => boolean)[] = [];
  const fieldPreds: NodePredicate[] = [];
  for (const e of exprs) {
    const p = labelRequirement(e);
    if (!p) return NEVER;
    labelPreds.push(p);
  }
  for (const f of fields) {
    const p = fieldRequirement(f);
    if (!p) return NEVER;
    fieldPreds.push(p);
  }
  return (n) => labelPreds.every((p) => p(n.labels)) && fieldPreds.every((p) => p(n));
}

/** ORs the terms of a NodeSelector; no terms matches nothing. */
export function compileNodeSelector(terms: readonly V1NodeSelectorTerm[]): NodePredicate {
  const preds = terms.map(compileTerm).filter((p) => p !== NEVER);
  if (!preds.length) return NEVER;
  if (preds.length === 1) return preds[0];
  return (n) => preds.some((p) => p(n));
}

/** `spec.nodeSelector`: every key must be present with exactly that value. */
export function compileLabelMap(sel: Record<string, string>): NodePredicate {
  const entries = Object.entries(sel);
  return (n) => entries.every(([k, v]) => n.labels[k] === v);
}

/**
 * A pod's nodeSelector and required node affinity, compiled (empty when it has neither).
 * A present required selector with no terms matches nothing, as in Kubernetes.
 */
export function requiredNodePredicates(spec: V1PodSpec | undefined): NodePredicate[] {
  const preds: NodePredicate[] = [];
  const selector = spec?.nodeSelector;
  if (selector && Object.keys(selector).length) preds.push(compileLabelMap(selector));
  const required = spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution;
  if (required) preds.push(compileNodeSelector(required.nodeSelectorTerms ?? []));
  return preds;
}
