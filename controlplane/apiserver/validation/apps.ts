/**
 * apps/v1 workloads (Deployment, ReplicaSet, DaemonSet) after pkg/apis/apps/validation,
 * plus the selector immutability the apps registry strategies add on update. Also the
 * label-selector validation and matching (metav1.LabelSelectorAsSelector semantics) the
 * workloads need.
 */
import type { FieldError } from '../../../common/errors.js';
import {
  Rendered, entries, forbidden, goJson, invalid, invalidEach, isLabelValue, isObj, isQualifiedName, jsonEqual, list, nameIsDNSSubdomain,
  nonNegative, notSupported, optInt, regexError, required, validateLabels, validateObjectMeta, validateObjectMetaUpdate, type Obj,
} from './meta.js';
import { validatePodTemplate } from './pod.js';

const OPERATORS = ['In', 'NotIn', 'Exists', 'DoesNotExist'];

/** A LabelSelector as Go's json.Marshal prints it: struct field order, empty fields omitted. */
export function renderSelector(sel: unknown): Rendered {
  if (!isObj(sel)) return new Rendered('null');
  const parts: string[] = [];
  if (isObj(sel.matchLabels) && Object.keys(sel.matchLabels).length) parts.push(`"matchLabels":${goJson(sel.matchLabels)}`);
  const exprs = list(sel.matchExpressions).filter(isObj);
  if (exprs.length) {
    const one = (e: Obj): string => `{"key":${JSON.stringify(e.key ?? '')},"operator":${JSON.stringify(e.operator ?? '')}${list(e.values).length ? `,"values":${goJson(e.values)}` : ''}}`;
    parts.push(`"matchExpressions":[${exprs.map(one).join(',')}]`);
  }
  return new Rendered(`{${parts.join(',')}}`);
}

/** ValidateLabelSelector with invalid label values in expressions rejected (as apps/v1 does). */
export function validateLabelSelector(errs: FieldError[], sel: unknown, path: string): void {
  if (!isObj(sel)) return;
  validateLabels(errs, `${path}.matchLabels`, sel.matchLabels);
  list(sel.matchExpressions).forEach((e, i) => {
    const p = `${path}.matchExpressions[${i}]`;
    const expr = isObj(e) ? e : {};
    const values = list(expr.values);
    if (expr.operator === 'In' || expr.operator === 'NotIn') {
      if (!values.length) errs.push(required(`${p}.values`, "must be specified when `operator` is 'In' or 'NotIn'"));
    } else if (expr.operator === 'Exists' || expr.operator === 'DoesNotExist') {
      if (values.length) errs.push(forbidden(`${p}.values`, "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"));
    } else {
      errs.push(invalid(`${p}.operator`, expr.operator ?? '', 'not a valid selector operator'));
    }
    errs.push(...invalidEach(`${p}.key`, expr.key ?? '', isQualifiedName(String(expr.key ?? ''))));
    values.forEach((v, j) => errs.push(...invalidEach(`${p}.values[${j}]`, v, isLabelValue(String(v)))));
  });
}

/**
 * Whether a LabelSelector selects `labels`. An absent selector selects nothing and an
 * empty one everything, as LabelSelectorAsSelector. Unknown operators select nothing.
 */
export function selectorMatches(sel: unknown, labels: unknown): boolean {
  if (!isObj(sel)) return false;
  const have: Obj = isObj(labels) ? labels : {};
  for (const [k, v] of entries(sel.matchLabels)) if (have[k] !== v) return false;
  for (const e of list(sel.matchExpressions)) {
    if (!isObj(e)) return false;
    const present = Object.prototype.hasOwnProperty.call(have, e.key);
    const values = list(e.values);
    const ok =
      e.operator === 'In' ? present && values.includes(have[e.key]) :
      e.operator === 'NotIn' ? !present || !values.includes(have[e.key]) :
      e.operator === 'Exists' ? present :
      e.operator === 'DoesNotExist' ? !present : false;
    if (!ok) return false;
  }
  return true;
}

const isEmptySelector = (sel: Obj): boolean => entries(sel.matchLabels).length + list(sel.matchExpressions).length === 0;
const selectorParses = (sel: unknown): boolean => !isObj(sel) || list(sel.matchExpressions).every((e) => isObj(e) && OPERATORS.includes(e.operator));

/** ValidatePodTemplateSpecForReplicaSet (Deployments and ReplicaSets). */
function validateTemplateForSelector(errs: FieldError[], spec: Obj, kindWord: string): void {
  const template = isObj(spec.template) ? spec.template : {};
  const labels = template.metadata?.labels;
  // A missing selector selects nothing, so it also fails to match; an empty one is skipped.
  if ((!isObj(spec.selector) || !isEmptySelector(spec.selector)) && !selectorMatches(spec.selector, labels)) {
    errs.push(invalid('spec.template.metadata.labels', labels ?? null, '`selector` does not match template `labels`'));
  }
  errs.push(...validatePodTemplate(template, 'spec.template'));
  const podSpec = isObj(template.spec) ? template.spec : {};
  if (podSpec.restartPolicy !== 'Always') errs.push(notSupported('spec.template.spec.restartPolicy', podSpec.restartPolicy ?? '', ['Always']));
  if (podSpec.activeDeadlineSeconds != null) errs.push(forbidden('spec.template.spec.activeDeadlineSeconds', `activeDeadlineSeconds in ${kindWord} is not Supported`));
}

function validateSelectorAndTemplate(errs: FieldError[], spec: Obj, emptyWord: string, kindWord: string): void {
  if (spec.selector === undefined || spec.selector === null) errs.push(required('spec.selector'));
  else {
    validateLabelSelector(errs, spec.selector, 'spec.selector');
    if (isObj(spec.selector) && isEmptySelector(spec.selector)) errs.push(invalid('spec.selector', renderSelector(spec.selector), `empty selector is invalid for ${emptyWord}`));
  }
  if (!selectorParses(spec.selector)) errs.push(invalid('spec.selector', renderSelector(spec.selector), 'invalid label selector'));
  else validateTemplateForSelector(errs, spec, kindWord);
}

const percentOf = (v: unknown): number | undefined => (typeof v === 'string' && /^[0-9]+%$/.test(v) ? Number(v.slice(0, -1)) : undefined);
/** getIntOrPercentValue: a percent's number, an int, or 0 for anything unparseable. */
const intOrPercent = (v: unknown): number => percentOf(v) ?? (typeof v === 'number' ? v : typeof v === 'string' && /^[+-]?[0-9]+$/.test(v) ? Number(v) : 0);

function validatePositiveIntOrPercent(errs: FieldError[], v: unknown, path: string): void {
  if (typeof v === 'string') {
    if (percentOf(v) === undefined) {
      errs.push(invalid(path, v, regexError("a valid percent string must be a numeric string followed by an ending '%'", '[0-9]+%', '1%', '93%')));
    }
  } else if (typeof v === 'number') nonNegative(errs, path, v);
  else if (v !== undefined && v !== null) errs.push(invalid(path, v, "must be an integer or percentage (e.g '5%%')"));
}

function notMoreThan100Percent(errs: FieldError[], v: unknown, path: string): void {
  const pct = percentOf(v);
  if (pct !== undefined && pct > 100) errs.push(invalid(path, v, 'must not be greater than 100%'));
}

/** Internal strategy structs have no JSON tags: Go prints their field names as declared. */
function renderStrategy(s: Obj): Rendered {
  const ru = isObj(s.rollingUpdate) ? `{"MaxUnavailable":${goJson(s.rollingUpdate.maxUnavailable ?? null)},"MaxSurge":${goJson(s.rollingUpdate.maxSurge ?? null)}}` : 'null';
  return new Rendered(`{"Type":${JSON.stringify(s.type ?? '')},"RollingUpdate":${ru}}`);
}

export function validateDeployment(d: Obj): FieldError[] {
  const errs = validateObjectMeta(d.metadata, true, nameIsDNSSubdomain);
  const spec = isObj(d.spec) ? d.spec : {};
  nonNegative(errs, 'spec.replicas', spec.replicas);
  validateSelectorAndTemplate(errs, spec, 'deployment', 'ReplicaSet');
  const strategy = isObj(spec.strategy) ? spec.strategy : {};
  const ru = strategy.rollingUpdate;
  if (strategy.type === 'Recreate') {
    if (ru != null) errs.push(forbidden('spec.strategy.rollingUpdate', "may not be specified when strategy `type` is 'Recreate'"));
  } else if (strategy.type === 'RollingUpdate') {
    if (!isObj(ru)) errs.push(required('spec.strategy.rollingUpdate', 'this should be defaulted and never be nil'));
    else {
      const p = 'spec.strategy.rollingUpdate';
      validatePositiveIntOrPercent(errs, ru.maxUnavailable, `${p}.maxUnavailable`);
      validatePositiveIntOrPercent(errs, ru.maxSurge, `${p}.maxSurge`);
      if (intOrPercent(ru.maxUnavailable) === 0 && intOrPercent(ru.maxSurge) === 0) {
        errs.push(invalid(`${p}.maxUnavailable`, ru.maxUnavailable ?? 0, 'may not be 0 when `maxSurge` is 0'));
      }
      notMoreThan100Percent(errs, ru.maxUnavailable, `${p}.maxUnavailable`);
    }
  } else {
    errs.push(notSupported('spec.strategy', renderStrategy(strategy), ['Recreate', 'RollingUpdate']));
  }
  nonNegative(errs, 'spec.minReadySeconds', spec.minReadySeconds);
  nonNegative(errs, 'spec.revisionHistoryLimit', spec.revisionHistoryLimit);
  const deadline = optInt(errs, 'spec.progressDeadlineSeconds', spec.progressDeadlineSeconds);
  if (deadline !== undefined) {
    nonNegative(errs, 'spec.progressDeadlineSeconds', deadline);
    if (deadline <= (typeof spec.minReadySeconds === 'number' ? spec.minReadySeconds : 0)) {
      errs.push(invalid('spec.progressDeadlineSeconds', deadline, 'must be greater than minReadySeconds'));
    }
  }
  return errs;
}

export function validateReplicaSet(rs: Obj): FieldError[] {
  const errs = validateObjectMeta(rs.metadata, true, nameIsDNSSubdomain);
  const spec = isObj(rs.spec) ? rs.spec : {};
  nonNegative(errs, 'spec.replicas', spec.replicas);
  nonNegative(errs, 'spec.minReadySeconds', spec.minReadySeconds);
  // Kubernetes says "deployment" here too.
  validateSelectorAndTemplate(errs, spec, 'deployment', 'ReplicaSet');
  return errs;
}

export function validateDaemonSet(ds: Obj): FieldError[] {
  const errs = validateObjectMeta(ds.metadata, true, nameIsDNSSubdomain);
  const spec = isObj(ds.spec) ? ds.spec : {};
  if (spec.selector === undefined || spec.selector === null) errs.push(required('spec.selector'));
  validateLabelSelector(errs, spec.selector, 'spec.selector');
  const template = isObj(spec.template) ? spec.template : {};
  if (selectorParses(spec.selector) && !selectorMatches(spec.selector, template.metadata?.labels)) {
    errs.push(invalid('spec.template.metadata.labels', template.metadata?.labels ?? null, '`selector` does not match template `labels`'));
  }
  if (isObj(spec.selector) && isEmptySelector(spec.selector)) errs.push(invalid('spec.selector', renderSelector(spec.selector), 'empty selector is invalid for daemonset'));
  errs.push(...validatePodTemplate(template, 'spec.template'));
  const podSpec = isObj(template.spec) ? template.spec : {};
  if (podSpec.restartPolicy !== 'Always') errs.push(notSupported('spec.template.spec.restartPolicy', podSpec.restartPolicy ?? '', ['Always']));
  if (podSpec.activeDeadlineSeconds != null) errs.push(forbidden('spec.template.spec.activeDeadlineSeconds', 'activeDeadlineSeconds in DaemonSet is not Supported'));
  nonNegative(errs, 'spec.minReadySeconds', spec.minReadySeconds);
  const strategy = isObj(spec.updateStrategy) ? spec.updateStrategy : {};
  const p = 'spec.updateStrategy.rollingUpdate';
  if (strategy.type === 'RollingUpdate') {
    const ru = strategy.rollingUpdate;
    if (!isObj(ru)) errs.push(required(p));
    else {
      validatePositiveIntOrPercent(errs, ru.maxUnavailable, `${p}.maxUnavailable`);
      validatePositiveIntOrPercent(errs, ru.maxSurge, `${p}.maxSurge`);
      notMoreThan100Percent(errs, ru.maxUnavailable, `${p}.maxUnavailable`);
      notMoreThan100Percent(errs, ru.maxSurge, `${p}.maxSurge`);
      const unavailable = intOrPercent(ru.maxUnavailable) !== 0;
      const surge = intOrPercent(ru.maxSurge) !== 0;
      if (unavailable && surge) errs.push(invalid(`${p}.maxSurge`, ru.maxSurge, 'may not be set when maxUnavailable is non-zero'));
      if (!unavailable && !surge) errs.push(required(`${p}.maxUnavailable`, 'cannot be 0 when maxSurge is 0'));
    }
  } else if (strategy.type !== 'OnDelete') {
    errs.push(notSupported('spec.updateStrategy', renderStrategy(strategy), ['RollingUpdate', 'OnDelete']));
  }
  nonNegative(errs, 'spec.revisionHistoryLimit', spec.revisionHistoryLimit);
  return errs;
}

/** Updates: metadata rules, the full spec again, and a selector that cannot change (apps/v1). */
export function validateWorkloadUpdate(kind: 'Deployment' | 'ReplicaSet' | 'DaemonSet', obj: Obj, old: Obj): FieldError[] {
  const errs = validateObjectMetaUpdate(obj.metadata, old.metadata);
  const validate = kind === 'Deployment' ? validateDeployment : kind === 'ReplicaSet' ? validateReplicaSet : validateDaemonSet;
  errs.push(...validate(obj));
  if (!jsonEqual(obj.spec?.selector, old.spec?.selector)) errs.push(invalid('spec.selector', renderSelector(obj.spec?.selector), 'field is immutable'));
  return errs;
}
