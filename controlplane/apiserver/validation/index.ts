/**
 * Entry points the registry calls after defaulting: what kube-apiserver's strategies run
 * as `Validate` (create), `ValidateUpdate` and the status strategy's `ValidateUpdate`.
 *
 * Contract: pure functions over plain JSON objects; they never throw and never mutate.
 * The object must already be defaulted (applyDefaults) and carry its final name and
 * namespace. An empty list means valid. Errors come in a stable order, without the
 * duplicates Kubernetes sometimes reports when update and create checks overlap.
 */
import type { FieldError } from '../../../common/errors.js';
import { RESOURCES } from '../resources.js';
import { validateDaemonSet, validateDeployment, validateReplicaSet, validateWorkloadUpdate } from './apps.js';
import { nameIsDNSSubdomain, validateObjectMeta, validateObjectMetaUpdate, type Obj } from './meta.js';
import {
  validateConfigMap, validateConfigMapUpdate, validateEndpointSlice, validateEndpointSliceUpdate, validateEndpoints, validateEvent,
  validateLease, validateNamespace, validateNode, validateNodeUpdate, validateSecret, validateSecretUpdate,
} from './misc.js';
import { validatePod, validatePodUpdate } from './pod.js';
import { validateService, validateServiceUpdate } from './service.js';

export { isDNS1123Label, isDNS1123Subdomain, isDNS1035Label, isLabelValue, isQualifiedName } from './meta.js';
export { selectorMatches } from './apps.js';

interface KindRules {
  create(o: Obj): FieldError[];
  /** Defaults to metadata update rules plus `create` on the new object. */
  update?(o: Obj, old: Obj): FieldError[];
}

const RULES: Record<string, KindRules> = {
  Pod: { create: (o) => validatePod(o), update: validatePodUpdate },
  Service: { create: validateService, update: validateServiceUpdate },
  Deployment: { create: validateDeployment, update: (o, old) => validateWorkloadUpdate('Deployment', o, old) },
  ReplicaSet: { create: validateReplicaSet, update: (o, old) => validateWorkloadUpdate('ReplicaSet', o, old) },
  DaemonSet: { create: validateDaemonSet, update: (o, old) => validateWorkloadUpdate('DaemonSet', o, old) },
  ConfigMap: { create: validateConfigMap, update: validateConfigMapUpdate },
  Secret: { create: validateSecret, update: validateSecretUpdate },
  Namespace: { create: validateNamespace },
  Node: { create: validateNode, update: validateNodeUpdate },
  Event: { create: validateEvent },
  Lease: { create: validateLease },
  Endpoints: { create: validateEndpoints },
  EndpointSlice: { create: validateEndpointSlice, update: validateEndpointSliceUpdate },
  ServiceAccount: { create: (o) => validateObjectMeta(o.metadata, true, nameIsDNSSubdomain) },
};

/** Kinds without rules of their own get ObjectMeta checks, scoped as the resource table says. */
function fallback(kind: string): KindRules {
  const namespaced = RESOURCES.find((r) => r.kind === kind)?.namespaced ?? true;
  return { create: (o) => validateObjectMeta(o.metadata, namespaced, nameIsDNSSubdomain) };
}

const rules = (kind: string): KindRules => RULES[kind] ?? fallback(kind);
const asObj = (o: unknown): Obj => (typeof o === 'object' && o !== null && !Array.isArray(o) ? (o as Obj) : {});

function unique(errs: FieldError[]): FieldError[] {
  const seen = new Set<string>();
  return errs.filter((e) => {
    const key = `${e.reason}\u0000${e.field}\u0000${e.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** Validation of a new object (after name generation and defaulting). */
export function validateCreate(kind: string, obj: Record<string, any>): FieldError[] {
  return unique(rules(kind).create(asObj(obj)));
}

/** Validation of a main-resource update: `obj` is the defaulted object about to be stored. */
export function validateUpdate(kind: string, obj: Record<string, any>, old: Record<string, any>): FieldError[] {
  const r = rules(kind);
  const o = asObj(obj);
  const prev = asObj(old);
  if (r.update) return unique(r.update(o, prev));
  return unique([...validateObjectMetaUpdate(o.metadata, prev.metadata), ...r.create(o)]);
}

/**
 * A status-subresource write: lenient by design, only the metadata update rules
 * (identity fields immutable, labels and annotations well-formed). Status contents are
 * the writer's (kubelet, controllers) responsibility.
 */
export function validateStatusUpdate(kind: string, obj: Record<string, any>, old: Record<string, any>): FieldError[] {
  void kind;
  return unique(validateObjectMetaUpdate(asObj(obj).metadata, asObj(old).metadata));
}
