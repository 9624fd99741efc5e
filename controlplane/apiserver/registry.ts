/**
 * Generic REST storage: the verbs of every resource over the revisioned store,
 * with optimistic concurrency, the per-resource strategy, admission, graceful
 * deletion and finalizers. The HTTP layer only decodes requests and encodes
 * results; everything a write means is decided here.
 *
 * Concurrency: every write is a compare-and-swap on the key's modRevision. A
 * write that carries a client resourceVersion fails with 409 on mismatch; one
 * that does not (unconditional update, patch, server-side changes) re-reads and
 * retries, so concurrent writers never lose each other's changes.
 */
import { alreadyExists, badRequest, conflict, expired, notFound, StatusError } from '../../common/errors.js';
import type { Logger } from '../../common/log.js';
import { CompactedError, type Store, type KeyValue } from '../store/types.js';
import { ServiceAllocator } from './allocator.js';
import { admitNamespacedCreate, admitNamespaceDelete } from './namespaces.js';
import { clone, decode, encode, randomSuffix, rfc3339, typeMeta, type Obj } from './objects.js';
import { applyPatch, type PatchType } from './patch/index.js';
import { storageKey, storagePrefix, type ResourceDef } from './resources.js';
import { prepareCreate, prepareStatusUpdate, prepareUpdate, unchanged } from './strategy.js';
import { addDefaultTolerations } from './defaults.js';
import { matches, type Selector } from '../../common/labels.js';
import { matchesFields, type FieldSelector } from './fields.js';

export interface WriteContext {
  dryRun?: boolean;
}

export interface ListOptions {
  labelSelector?: Selector;
  fieldSelector?: FieldSelector;
  limit?: number;
  continueToken?: string;
  /** '' or '0' read the latest state. */
  resourceVersion?: string;
}

export interface ListResult {
  items: Obj[];
  resourceVersion: string;
  continueToken?: string;
  remainingItemCount?: number;
}

export interface DeleteOptions {
  gracePeriodSeconds?: number;
  propagationPolicy?: 'Orphan' | 'Background' | 'Foreground';
  orphanDependents?: boolean;
  preconditions?: { uid?: string; resourceVersion?: string };
}

export interface DeleteResult {
  /** The object as last stored (deleted, or marked for deletion). */
  obj: Obj;
  /** False when deletion is pending (grace period, finalizers). */
  finished: boolean;
}

const MAX_RETRIES = 32;

interface ContinueToken {
  rv: number;
  start: string;
}

function encodeContinue(t: ContinueToken): string {
  return Buffer.from(JSON.stringify({ v: 'meta.k8s.io/v1', ...t })).toString('base64url');
}

function decodeContinue(s: string): ContinueToken {
  try {
    const t = JSON.parse(Buffer.from(s, 'base64url').toString('utf8')) as Partial<ContinueToken>;
    if (typeof t.rv === 'number' && typeof t.start === 'string') return { rv: t.rv, start: t.start };
  } catch {
    // fall through
  }
  throw badRequest('continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)');
}

export class Registry {
  readonly services: ServiceAllocator;

  constructor(
    readonly store: Store,
    private readonly log: Logger,
    private readonly opts: { serviceCidr: string; defaultTolerationSeconds?: number },
  ) {
    this.services = new ServiceAllocator(opts.serviceCidr);
  }

  /** Loads allocator state from the store; call once before serving. */
  async init(services: ResourceDef): Promise<void> {
    const all = await this.store.list(storagePrefix(services, undefined));
    this.services.load(all.items.map((kv) => JSON.parse(kv.value) as Obj));
  }

  private key(r: ResourceDef, ns: string | undefined, name: string): string {
    return storageKey(r, r.namespaced ? ns : undefined, name);
  }

  private decode(r: ResourceDef, kv: KeyValue): Obj {
    const o = decode(kv.value, kv.modRevision);
    return { ...typeMeta(r), ...o };
  }

  async get(r: ResourceDef, ns: string | undefined, name: string): Promise<Obj> {
    const kv = await this.store.get(this.key(r, ns, name));
    if (!kv) throw notFound(r.plural, name, r.group || undefined);
    return this.decode(r, kv);
  }

  /** Lists at one revision, filtering by selectors, paging with limit/continue. */
  async list(r: ResourceDef, ns: string | undefined, opts: ListOptions = {}): Promise<ListResult> {
    const prefix = storagePrefix(r, r.namespaced ? ns : undefined);
    let revision = 0;
    let start: string | undefined;
    if (opts.continueToken) {
      const t = decodeContinue(opts.continueToken);
      revision = t.rv;
      start = t.start;
    } else if (opts.resourceVersion && opts.resourceVersion !== '0') {
      revision = Number(opts.resourceVersion);
      if (!Number.isSafeInteger(revision) || revision < 0) throw badRequest(`invalid resource version: ${opts.resourceVersion}`);
      // "NotOlderThan": the latest state is never older than what was asked for.
      if (revision <= (await this.store.currentRevision())) revision = 0;
    }
    const filtered = Boolean(opts.labelSelector?.length || opts.fieldSelector?.length);
    const want = opts.limit && opts.limit > 0 ? opts.limit : 0;
    const items: Obj[] = [];
    let remaining = 0;
    let lastKey: string | undefined;
    for (;;) {
      let page;
      try {
        page = await this.store.list(prefix, { revision, startAfter: start, limit: want ? Math.max(want - items.length, 100) : 0 });
      } catch (e) {
        if (e instanceof CompactedError) {
          throw expired('The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.');
        }
        throw e;
      }
      revision = page.revision;
      for (let i = 0; i < page.items.length; i++) {
        const kv = page.items[i];
        lastKey = kv.key;
        const o = this.decode(r, kv);
        if (this.matches(r, o, opts)) items.push(o);
        if (want && items.length >= want) {
          remaining = page.items.length - i - 1 + page.remaining;
          break;
        }
      }
      if ((want && items.length >= want) || page.remaining === 0 || page.items.length === 0) {
        if (!(want && items.length >= want)) remaining = 0;
        break;
      }
      start = lastKey;
    }
    const res: ListResult = { items, resourceVersion: String(revision) };
    if (remaining > 0 && lastKey !== undefined) {
      res.continueToken = encodeContinue({ rv: revision, start: lastKey });
      if (!filtered) res.remainingItemCount = remaining;
    }
    return res;
  }

  matches(r: ResourceDef, o: Obj, opts: Pick<ListOptions, 'labelSelector' | 'fieldSelector'>): boolean {
    if (opts.labelSelector?.length && !matches(opts.labelSelector, o.metadata?.labels)) return false;
    if (opts.fieldSelector?.length && !matchesFields(opts.fieldSelector, r.plural, o)) return false;
    return true;
  }

  async create(r: ResourceDef, ns: string | undefined, body: Obj, ctx: WriteContext = {}): Promise<Obj> {
    const o = clone(body);
    const m = (o.metadata ??= {});
    if (r.namespaced) m.namespace = ns;
    else delete m.namespace;
    const generated = !m.name && typeof m.generateName === 'string' && m.generateName !== '';
    if (generated) m.name = `${m.generateName}${randomSuffix()}`;
    if (!m.name) {
      throw new StatusError(422, 'Invalid', `${r.kind}${r.group ? `.${r.group}` : ''} "" is invalid: metadata.name: Required value: name or generateName is required`, {
        kind: r.plural,
        causes: [{ reason: 'FieldValueRequired', message: 'Required value: name or generateName is required', field: 'metadata.name' }],
      });
    }
    if (r.namespaced) await admitNamespacedCreate(this.store, ns!);
    if (r.plural === 'pods') addDefaultTolerations(o, this.opts.defaultTolerationSeconds);
    prepareCreate(r, o);
    let release: (() => void) | undefined;
    if (r.plural === 'services') release = this.services.allocate(o);
    try {
      if (ctx.dryRun) return { ...typeMeta(r), ...o };
      const res = await this.store.create(this.key(r, ns, m.name), encode(o));
      if (!res.ok) {
        throw generated
          ? new StatusError(409, 'AlreadyExists', `${r.plural} "${m.name}" already exists, the server was not able to generate a unique name for the object`)
          : alreadyExists(r.plural, m.name, r.group || undefined);
      }
      release = undefined;
      return this.decode(r, res.kv);
    } finally {
      release?.();
    }
  }

  /**
   * The read-modify-write loop under every update: `mutate` gets the current object
   * (undefined when absent) and returns the object to store, or throws. It runs again
   * after a lost race unless `precondition` pinned a resourceVersion.
   * Objects marked for deletion whose finalizers are all gone are deleted here.
   */
  async guaranteedUpdate(
    r: ResourceDef,
    ns: string | undefined,
    name: string,
    mutate: (cur: Obj | undefined) => Obj | Promise<Obj>,
    ctx: WriteContext = {},
  ): Promise<{ obj: Obj; created: boolean }> {
    const key = this.key(r, ns, name);
    for (let attempt = 0; attempt < MAX_RETRIES; attempt++) {
      const kv = await this.store.get(key);
      const cur = kv ? this.decode(r, kv) : undefined;
      const next = await mutate(cur ? clone(cur) : undefined);
      if (!cur) {
        // Create-on-update (PUT of a missing object where allowed, server-side apply).
        const created = await this.create(r, ns, next, ctx);
        return { obj: created, created: true };
      }
      const wantRv = next.metadata?.resourceVersion;
      if (wantRv && wantRv !== cur.metadata.resourceVersion) throw conflict(r.plural, name, r.group || undefined);
      if (unchanged(next, cur)) return { obj: cur, created: false };
      if (ctx.dryRun) return { obj: { ...next, metadata: { ...next.metadata, resourceVersion: cur.metadata.resourceVersion } }, created: false };
      if (next.metadata?.deletionTimestamp && this.deletionDue(r, next)) {
        const del = await this.store.delete(key, kv!.modRevision);
        if (del.ok) {
          this.afterDelete(r, next);
          return { obj: { ...next, metadata: { ...next.metadata, resourceVersion: String(del.revision) } }, created: false };
        }
        continue;
      }
      let release: (() => void) | undefined;
      if (r.plural === 'services') release = this.services.update(next, cur);
      try {
        const res = await this.store.update(key, encode(next), kv!.modRevision);
        if (res.ok) {
          release = undefined;
          if (r.plural === 'services') this.services.commitUpdate(next, cur);
          return { obj: this.decode(r, res.kv), created: false };
        }
      } finally {
        release?.();
      }
      // Lost a race: re-read. A pinned resourceVersion now mismatches and fails above.
    }
    throw conflict(r.plural, name, r.group || undefined, 'too many concurrent writers, please try again');
  }

  /**
   * Whether an object marked for deletion can go now: no finalizers left (for
   * namespaces, spec.finalizers too), and for pods on a node, no grace period
   * left for the agent to finish.
   */
  private deletionDue(r: ResourceDef, o: Obj): boolean {
    if (o.metadata.finalizers?.length) return false;
    if (r.plural === 'namespaces') return !(o.spec?.finalizers?.length);
    if (r.plural !== 'pods') return true;
    return !o.spec?.nodeName || (o.metadata.deletionGracePeriodSeconds ?? 0) === 0;
  }

  private afterDelete(r: ResourceDef, o: Obj): void {
    if (r.plural === 'services') this.services.release(o);
  }

  /** PUT: replaces the object (or only its status with `sub === 'status'`). */
  async update(r: ResourceDef, ns: string | undefined, name: string, body: Obj, ctx: WriteContext = {}, sub?: string): Promise<{ obj: Obj; created: boolean }> {
    const allowCreate = !sub && ['endpoints', 'events', 'leases', 'nodes', 'endpointslices', 'configmaps', 'secrets'].includes(r.plural);
    return this.guaranteedUpdate(
      r,
      ns,
      name,
      (cur) => {
        if (!cur) {
          if (!allowCreate) throw notFound(r.plural, name, r.group || undefined);
          return body;
        }
        const next = sub === 'status' ? prepareStatusUpdate(r, body, cur) : prepareUpdate(r, body, cur);
        // A client resourceVersion is a precondition; none means "whatever is current".
        next.metadata.resourceVersion = body.metadata?.resourceVersion || undefined;
        return next;
      },
      ctx,
    );
  }

  /** PATCH of any type; `apply` creates a missing object. Retried on lost races. */
  async patch(r: ResourceDef, ns: string | undefined, name: string, type: PatchType, patch: unknown, ctx: WriteContext = {}, sub?: string): Promise<{ obj: Obj; created: boolean }> {
    return this.guaranteedUpdate(
      r,
      ns,
      name,
      (cur) => {
        if (!cur) {
          if (type !== 'apply' || sub) throw notFound(r.plural, name, r.group || undefined);
          const created = applyPatch(type, {}, patch, r.kind) as Obj;
          created.metadata = { ...(created.metadata ?? {}), name };
          return created;
        }
        const patched = applyPatch(type, cur, patch, r.kind) as Obj;
        const pinned = patched.metadata?.resourceVersion !== cur.metadata.resourceVersion ? patched.metadata?.resourceVersion : undefined;
        this.checkIdentity(r, ns, name, patched);
        const next = sub === 'status' ? prepareStatusUpdate(r, patched, cur) : prepareUpdate(r, patched, cur);
        next.metadata.resourceVersion = pinned;
        return next;
      },
      ctx,
    );
  }

  private checkIdentity(r: ResourceDef, ns: string | undefined, name: string, o: Obj): void {
    if (o.metadata?.name !== name) throw badRequest(`the name of the object (${o.metadata?.name}) does not match the name on the URL (${name})`);
    if (r.namespaced && o.metadata?.namespace && o.metadata.namespace !== ns) {
      throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
    }
  }

  /**
   * DELETE with Kubernetes semantics: preconditions; pods on a node get a grace
   * period (deletionTimestamp) for the agent to finish; finalizers (and the GC's
   * foregroundDeletion/orphan for those propagation policies) hold the object
   * with a deletionTimestamp; namespaces go Terminating for their controller.
   */
  async delete(r: ResourceDef, ns: string | undefined, name: string, opts: DeleteOptions = {}, ctx: WriteContext = {}): Promise<DeleteResult> {
    if (r.plural === 'namespaces') admitNamespaceDelete(name);
    const key = this.key(r, ns, name);
    for (let attempt = 0; attempt < MAX_RETRIES; attempt++) {
      const kv = await this.store.get(key);
      if (!kv) throw notFound(r.plural, name, r.group || undefined);
      const cur = this.decode(r, kv);
      const pre = opts.preconditions;
      if (pre?.uid && pre.uid !== cur.metadata.uid) {
        throw conflict(r.plural, name, r.group || undefined, `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${cur.metadata.uid}`);
      }
      if (pre?.resourceVersion && pre.resourceVersion !== cur.metadata.resourceVersion) {
        throw conflict(r.plural, name, r.group || undefined, `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${cur.metadata.resourceVersion}`);
      }
      const next = this.markForDeletion(r, cur, opts);
      if (next) {
        if (unchanged(next, cur)) return { obj: cur, finished: false };
        if (ctx.dryRun) return { obj: next, finished: false };
        const res = await this.store.update(key, encode(next), kv.modRevision);
        if (res.ok) return { obj: this.decode(r, res.kv), finished: false };
        continue;
      }
      if (ctx.dryRun) return { obj: cur, finished: true };
      const res = await this.store.delete(key, kv.modRevision);
      if (res.ok) {
        this.afterDelete(r, cur);
        return { obj: { ...cur, metadata: { ...cur.metadata, resourceVersion: String(res.revision) } }, finished: true };
      }
    }
    throw conflict(r.plural, name, r.group || undefined, 'too many concurrent writers, please try again');
  }

  /** The object to store instead of deleting, or undefined to delete now. */
  private markForDeletion(r: ResourceDef, cur: Obj, opts: DeleteOptions): Obj | undefined {
    const next = clone(cur);
    const m = next.metadata;
    const finalizers: string[] = [...(m.finalizers ?? [])];
    const policy = opts.propagationPolicy ?? (opts.orphanDependents ? 'Orphan' : undefined);
    const hold = (f: string): void => {
      if (!finalizers.includes(f)) finalizers.push(f);
    };
    if (policy === 'Foreground') hold('foregroundDeletion');
    if (policy === 'Orphan') hold('orphan');
    if (policy === 'Background') {
      // An explicit background delete replaces a pending foreground/orphan request.
      for (const f of ['foregroundDeletion', 'orphan']) {
        const i = finalizers.indexOf(f);
        if (i >= 0 && !cur.metadata.deletionTimestamp) finalizers.splice(i, 1);
      }
    }
    if (r.plural === 'namespaces') {
      if ((cur.spec?.finalizers ?? []).length === 0 && finalizers.length === 0) return undefined;
      m.deletionTimestamp ??= rfc3339();
      m.deletionGracePeriodSeconds ??= 0;
      if (finalizers.length) m.finalizers = finalizers;
      next.status = { ...(next.status ?? {}), phase: 'Terminating' };
      return next;
    }
    if (r.plural === 'pods') {
      const phase = cur.status?.phase;
      let grace = opts.gracePeriodSeconds ?? cur.spec?.terminationGracePeriodSeconds ?? 30;
      if (!cur.spec?.nodeName || phase === 'Succeeded' || phase === 'Failed') grace = 0;
      if (grace < 0) grace = 1;
      if (grace === 0 && !finalizers.length) return undefined;
      const prevGrace = m.deletionGracePeriodSeconds;
      // A delete can shorten a pending grace period, never extend it.
      if (prevGrace === undefined || grace < prevGrace) {
        m.deletionGracePeriodSeconds = grace;
        m.deletionTimestamp = rfc3339(new Date(Date.now() + grace * 1000));
      }
      if (finalizers.length) m.finalizers = finalizers;
      return next;
    }
    if (finalizers.length === 0) return undefined;
    m.finalizers = finalizers;
    m.deletionTimestamp ??= rfc3339();
    m.deletionGracePeriodSeconds ??= 0;
    return next;
  }

  async deleteCollection(r: ResourceDef, ns: string | undefined, list: ListOptions, opts: DeleteOptions, ctx: WriteContext = {}): Promise<Obj[]> {
    const { items } = await this.list(r, ns, { labelSelector: list.labelSelector, fieldSelector: list.fieldSelector });
    const out: Obj[] = [];
    for (const o of items) {
      try {
        out.push((await this.delete(r, o.metadata.namespace, o.metadata.name, opts, ctx)).obj);
      } catch (e) {
        // Gone in the meantime is what the caller wanted.
        if (!(e instanceof StatusError && e.code === 404)) throw e;
      }
    }
    this.log.debug({ resource: r.plural, namespace: ns, count: out.length }, 'deletecollection');
    return out;
  }
}
