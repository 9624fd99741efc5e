/**
 * Subresources other than status: pods/binding, pods/eviction, deployments|replicasets/scale, and the
 * streaming ones (pods/log, pods/exec) which are proxied to the node's agent
 * once the agent exists (see PodStreamer).
 */
import type { Request, Response } from 'express';
import { badRequest, conflict, methodNotAllowed, StatusError, statusSuccess } from '../../common/errors.js';
import { selectorFromObject, selectorToString } from '../../common/labels.js';
import type { Target } from './handlers.js';
import { decodeBody, isDryRun, patchMediaType, sendJson } from './http.js';
import { isPlainObject, rfc3339, type Obj } from './objects.js';
import { applyPatch, patchTypeFromContentType } from './patch/index.js';
import type { Registry } from './registry.js';

/** Hands a streaming pod subresource (log, exec) to whatever can reach the pod's node. */
export type PodStreamer = (req: Request, res: Response, pod: Obj, sub: 'log' | 'exec') => Promise<void>;

let streamer: PodStreamer | undefined;

export function setPodStreamer(s: PodStreamer | undefined): void {
  streamer = s;
}

export async function handleSubresource(reg: Registry, req: Request, res: Response, t: Target, verb: string): Promise<void> {
  switch (t.sub) {
    case 'binding':
      return bind(reg, req, res, t);
    case 'eviction':
      return evict(reg, req, res, t);
    case 'scale':
      return scale(reg, req, res, t, verb);
    case 'log':
    case 'exec': {
      const pod = await reg.get(t.r, t.namespace, t.name!);
      if (!pod.spec?.nodeName) throw badRequest(`pod ${t.name} does not have a host assigned`);
      if (!streamer) throw new StatusError(503, 'ServiceUnavailable', `no agent connection is available for node ${pod.spec.nodeName}`);
      return streamer(req, res, pod, t.sub);
    }
    case 'finalize':
      return finalizeNamespace(reg, req, res, t);
    default:
      throw methodNotAllowed();
  }
}

function bodyObject(req: Request, what: string): Obj {
  const b = decodeBody(req);
  if (!isPlainObject(b)) throw badRequest(`${what} must be an object`);
  return b;
}

/** POST pods/x/binding: sets spec.nodeName once, merges annotations, marks PodScheduled. */
async function bind(reg: Registry, req: Request, res: Response, t: Target): Promise<void> {
  if (req.method !== 'POST') throw methodNotAllowed();
  const b = bodyObject(req, 'Binding');
  const node = b.target?.name;
  if (typeof node !== 'string' || !node) throw badRequest('Binding target.name is required');
  if (b.target?.kind && b.target.kind !== 'Node') throw badRequest(`Binding target must be a Node, got ${b.target.kind}`);
  await reg.guaranteedUpdate(t.r, t.namespace, t.name!, (pod) => {
    if (!pod) throw new StatusError(404, 'NotFound', `pods "${t.name}" not found`, { name: t.name, kind: 'pods' });
    if (b.metadata?.uid && b.metadata.uid !== pod.metadata.uid) throw conflict('pods', t.name!, undefined, 'the UID in the binding does not match the pod');
    if (pod.metadata.deletionTimestamp) throw conflict('pods', t.name!, undefined, 'pod is being deleted, cannot be assigned to a host');
    if (pod.spec.nodeName) throw conflict('pods', t.name!, undefined, `pod ${t.name} is already assigned to node "${pod.spec.nodeName}"`);
    pod.spec.nodeName = node;
    if (isPlainObject(b.metadata?.annotations)) pod.metadata.annotations = { ...(pod.metadata.annotations ?? {}), ...b.metadata.annotations };
    const conds: Obj[] = (pod.status ??= {}).conditions ?? [];
    const now = rfc3339();
    pod.status.conditions = [...conds.filter((c) => c.type !== 'PodScheduled'), { type: 'PodScheduled', status: 'True', lastProbeTime: null, lastTransitionTime: now }];
    return pod;
  }, { dryRun: isDryRun(req) });
  sendJson(res, 201, statusSuccess());
}

/** POST pods/x/eviction: without disruption budgets, an eviction is a delete with its options. */
async function evict(reg: Registry, req: Request, res: Response, t: Target): Promise<void> {
  if (req.method !== 'POST') throw methodNotAllowed();
  const b = bodyObject(req, 'Eviction');
  if (b.metadata?.name && b.metadata.name !== t.name) throw badRequest(`name in URL does not match name in Eviction object`);
  const opts = isPlainObject(b.deleteOptions) ? b.deleteOptions : {};
  await reg.delete(t.r, t.namespace, t.name!, { gracePeriodSeconds: opts.gracePeriodSeconds, propagationPolicy: opts.propagationPolicy, preconditions: opts.preconditions }, { dryRun: isDryRun(req) });
  sendJson(res, 201, statusSuccess());
}

function scaleOf(o: Obj): Obj {
  let selector = '';
  try {
    const sel = selectorFromObject(o.spec?.selector);
    selector = sel ? selectorToString(sel) : '';
  } catch {
    selector = '';
  }
  return {
    kind: 'Scale',
    apiVersion: 'autoscaling/v1',
    metadata: {
      name: o.metadata.name,
      namespace: o.metadata.namespace,
      uid: o.metadata.uid,
      resourceVersion: o.metadata.resourceVersion,
      creationTimestamp: o.metadata.creationTimestamp,
    },
    spec: { replicas: o.spec?.replicas ?? 0 },
    status: { replicas: o.status?.replicas ?? 0, selector },
  };
}

/** GET/PUT/PATCH <resource>/scale: the replicas of a Deployment or ReplicaSet as an autoscaling/v1 Scale. */
async function scale(reg: Registry, req: Request, res: Response, t: Target, verb: string): Promise<void> {
  if (verb === 'get') {
    sendJson(res, 200, scaleOf(await reg.get(t.r, t.namespace, t.name!)));
    return;
  }
  if (verb !== 'update' && verb !== 'patch') throw methodNotAllowed();
  let next: Obj;
  if (verb === 'update') {
    next = bodyObject(req, 'Scale');
    if (next.kind !== 'Scale') throw badRequest(`the kind in the data (${next.kind}) does not match the expected kind (Scale)`);
  }
  const type = verb === 'patch' ? patchTypeFromContentType(patchMediaType(req)) : undefined;
  if (verb === 'patch' && !type) throw new StatusError(415, 'UnsupportedMediaType', 'unsupported patch type');
  const patch = verb === 'patch' ? decodeBody(req) : undefined;
  const { obj } = await reg.guaranteedUpdate(t.r, t.namespace, t.name!, (cur) => {
    if (!cur) throw new StatusError(404, 'NotFound', `${t.r.plural}.${t.r.group} "${t.name}" not found`, { name: t.name, group: t.r.group, kind: t.r.plural });
    const s = verb === 'patch' ? applyPatch(type!, scaleOf(cur), patch, 'Scale') : next;
    const replicas = s.spec?.replicas;
    if (!Number.isInteger(replicas) || replicas < 0) {
      throw new StatusError(422, 'Invalid', `Scale.autoscaling "${t.name}" is invalid: spec.replicas: Invalid value: ${JSON.stringify(replicas)}: must be greater than or equal to 0`, {
        name: t.name,
        group: 'autoscaling',
        kind: 'Scale',
        causes: [{ reason: 'FieldValueInvalid', message: `Invalid value: ${JSON.stringify(replicas)}: must be greater than or equal to 0`, field: 'spec.replicas' }],
      });
    }
    const rv = s.metadata?.resourceVersion;
    if (rv && rv !== cur.metadata.resourceVersion) throw conflict(t.r.plural, t.name!, t.r.group);
    if (cur.spec.replicas !== replicas) {
      cur.spec.replicas = replicas;
      cur.metadata.generation = (cur.metadata.generation ?? 1) + 1;
    }
    cur.metadata.resourceVersion = undefined;
    return cur;
  }, { dryRun: isDryRun(req) });
  sendJson(res, 200, scaleOf(obj));
}

/** PUT namespaces/x/finalize: the namespace controller empties spec.finalizers to let it go. */
async function finalizeNamespace(reg: Registry, req: Request, res: Response, t: Target): Promise<void> {
  if (req.method !== 'PUT') throw methodNotAllowed();
  const b = bodyObject(req, 'Namespace');
  const { obj } = await reg.guaranteedUpdate(t.r, undefined, t.name!, (cur) => {
    if (!cur) throw new StatusError(404, 'NotFound', `namespaces "${t.name}" not found`, { name: t.name, kind: 'namespaces' });
    cur.spec = { ...(cur.spec ?? {}), finalizers: Array.isArray(b.spec?.finalizers) ? b.spec.finalizers : [] };
    cur.metadata.resourceVersion = b.metadata?.resourceVersion || undefined;
    return cur;
  });
  sendJson(res, 200, obj);
}
