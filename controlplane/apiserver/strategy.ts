/**
 * Per-resource rules for writes, as kube-apiserver's registry strategies define them:
 * what the server fills in on create, what a main-resource update may change
 * (status is kept), what a status update may change (only status), when
 * `metadata.generation` moves, and validation.
 */
import { invalid, type FieldError } from '../../common/errors.js';
import { applyDefaults } from './defaults.js';
import { validateCreate, validateUpdate, validateStatusUpdate } from './validation/index.js';
import { clone, jsonEqual, newUid, rfc3339, specPart, type Obj } from './objects.js';
import type { ResourceDef } from './resources.js';

/** Resources whose controllers report status.observedGeneration against metadata.generation. */
const GENERATION_TRACKED = new Set(['deployments', 'replicasets', 'daemonsets']);

/** Metadata fields the server owns: a client's value is replaced by the stored one on update. */
const SERVER_META = ['uid', 'creationTimestamp', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'generation', 'selfLink'] as const;

function fail(r: ResourceDef, o: Obj, errs: FieldError[]): void {
  if (errs.length) throw invalid(r.kind, o.metadata?.name ?? '', errs, r.group || undefined);
}

/** Fills server fields and defaults for a new object, then validates it. Mutates `o`. */
export function prepareCreate(r: ResourceDef, o: Obj): void {
  const m = (o.metadata ??= {});
  m.uid = newUid();
  m.creationTimestamp = rfc3339();
  delete m.deletionTimestamp;
  delete m.deletionGracePeriodSeconds;
  delete m.resourceVersion;
  delete m.selfLink;
  delete m.managedFields;
  if (GENERATION_TRACKED.has(r.plural)) m.generation = 1;
  // Status is the controllers' and agents' to write; nodes register with theirs.
  if (r.hasStatus && r.plural !== 'nodes') delete o.status;
  applyDefaults(r.kind, o);
  fail(r, o, validateCreate(r.kind, o));
}

/**
 * Builds the object a main-resource update stores: the client's object with the
 * server-owned metadata and (for resources with a status subresource) the old status.
 * Bumps generation when anything but metadata and status changed.
 */
export function prepareUpdate(r: ResourceDef, o: Obj, old: Obj): Obj {
  const next = clone(o);
  const m = (next.metadata ??= {});
  for (const k of SERVER_META) {
    if (old.metadata?.[k] === undefined) delete m[k];
    else m[k] = old.metadata[k];
  }
  delete m.managedFields;
  if (r.hasStatus) {
    if (old.status === undefined) delete next.status;
    else next.status = clone(old.status);
  }
  if (r.plural === 'services') keepAllocations(next, old);
  applyDefaults(r.kind, next);
  if (m.generation !== undefined && !jsonEqual(specPart(next), specPart(old))) m.generation = (old.metadata?.generation ?? 0) + 1;
  fail(r, next, validateUpdate(r.kind, next, old));
  return next;
}

/**
 * A replaced Service keeps what the allocator gave it when the client left it out
 * (kubectl replace of a file without clusterIP), as the apiserver's service REST does.
 */
function keepAllocations(next: Obj, old: Obj): void {
  const spec = (next.spec ??= {});
  const was = old.spec ?? {};
  if (!spec.clusterIP && was.clusterIP) {
    spec.clusterIP = was.clusterIP;
    spec.clusterIPs = was.clusterIPs;
  }
  if (spec.type === was.type || (spec.type ?? 'ClusterIP') === (was.type ?? 'ClusterIP')) {
    for (const p of spec.ports ?? []) {
      if (p.nodePort) continue;
      const same = (was.ports ?? []).find((q: Obj) => q.port === p.port && (q.protocol ?? 'TCP') === (p.protocol ?? 'TCP'));
      if (same?.nodePort) p.nodePort = same.nodePort;
    }
  }
}

/** A status update: everything from the old object but status (and finalizers nobody should lose). */
export function prepareStatusUpdate(r: ResourceDef, o: Obj, old: Obj): Obj {
  const next = clone(old);
  next.status = clone(o.status);
  fail(r, next, validateStatusUpdate(r.kind, next, old));
  return next;
}

/** True when nothing a client would see changed: such a write is skipped, as the apiserver does. */
export function unchanged(a: Obj, b: Obj): boolean {
  const strip = (x: Obj): Obj => {
    const { resourceVersion: _r, managedFields: _m, ...meta } = x.metadata ?? {};
    return { ...x, metadata: meta };
  };
  return jsonEqual(strip(a), strip(b));
}
