/**
 * Test support for unit tests of the machinery and controllers: an informer
 * source fed by hand (so a test decides what the cache has seen, and when) and
 * an Api that records every call and answers from a small in-memory table.
 */
import { ApiError, type Api, type DeleteOptions, type PatchType } from './client.js';
import type { ListWatchSource, SourceFactory } from './informer.js';
import type { Obj } from './objects.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Cb = (o?: any) => void;

/** A ListWatchSource whose list and events the test controls. */
export class FakeSource implements ListWatchSource {
  private cbs = new Map<string, Cb[]>();
  started = 0;
  failNextStart = false;

  constructor(private readonly list: () => Promise<Obj>) {}

  on(verb: 'add' | 'update' | 'delete', cb: (o: Obj) => void): void;
  on(verb: 'error' | 'connect', cb: (err?: unknown) => void): void;
  on(verb: string, cb: Cb): void {
    this.cbs.set(verb, [...(this.cbs.get(verb) ?? []), cb]);
  }

  emit(verb: 'add' | 'update' | 'delete' | 'error' | 'connect', o?: unknown): void {
    for (const cb of this.cbs.get(verb) ?? []) cb(o);
  }

  async start(): Promise<void> {
    this.started++;
    if (this.failNextStart) {
      this.failNextStart = false;
      this.emit('error', new Error('connection refused'));
      return;
    }
    const l = await this.list();
    for (const o of l.items ?? []) this.emit('add', o);
  }

  async stop(): Promise<void> {}
}

/** A SourceFactory that keeps the sources it made, by path. */
export function fakeSources(): { factory: SourceFactory; sources: Map<string, FakeSource> } {
  const sources = new Map<string, FakeSource>();
  return {
    sources,
    factory: (path, list) => {
      const s = new FakeSource(list);
      sources.set(path, s);
      return s;
    },
  };
}

export interface Call {
  verb: 'get' | 'list' | 'create' | 'update' | 'patch' | 'delete';
  path: string;
  body?: unknown;
}

let seq = 0;

/**
 * An Api over a map of path -> object. Lists return objects stored under the
 * collection path; creates fill name (from generateName), uid and
 * resourceVersion. Enough for controller unit tests, not a server.
 */
export class FakeApi implements Api {
  readonly calls: Call[] = [];
  readonly objects = new Map<string, Obj>();
  /** Make the next matching calls fail: (call) => error or undefined. */
  fail?: (c: Call) => Error | undefined;

  private record(c: Call): void {
    this.calls.push(c);
    const e = this.fail?.(c);
    if (e) throw e;
  }

  async get(path: string): Promise<Obj> {
    this.record({ verb: 'get', path });
    const o = this.objects.get(path);
    if (!o) throw new ApiError(404, 'NotFound', `${path} not found`);
    return structuredClone(o);
  }

  async list(path: string): Promise<Obj> {
    this.record({ verb: 'list', path });
    const items = [...this.objects.entries()].filter(([p]) => p.startsWith(`${path}/`) && !p.slice(path.length + 1).includes('/')).map(([, o]) => structuredClone(o));
    return { items, metadata: { resourceVersion: String(seq) } };
  }

  async create(path: string, body: Obj): Promise<Obj> {
    this.record({ verb: 'create', path, body });
    const o = structuredClone(body);
    const m = (o.metadata ??= {});
    m.name ??= `${m.generateName ?? 'x-'}${++seq}`;
    m.uid = `uid-${++seq}`;
    m.resourceVersion = String(++seq);
    m.creationTimestamp ??= new Date(0).toISOString();
    const key = `${path}/${m.name}`;
    if (this.objects.has(key)) throw new ApiError(409, 'AlreadyExists', `${key} already exists`);
    this.objects.set(key, o);
    return structuredClone(o);
  }

  async update(path: string, body: Obj): Promise<Obj> {
    this.record({ verb: 'update', path, body });
    const o = { ...structuredClone(body), metadata: { ...body.metadata, resourceVersion: String(++seq) } };
    this.objects.set(path.replace(/\/(status|finalize)$/, ''), o);
    return o;
  }

  async patch(path: string, body: unknown, _type?: PatchType): Promise<Obj> {
    this.record({ verb: 'patch', path, body });
    const key = path.replace(/\/status$/, '');
    const cur = this.objects.get(key) ?? { metadata: {} };
    const merged = mergePatch(structuredClone(cur), body) as Obj;
    merged.metadata.resourceVersion = String(++seq);
    this.objects.set(key, merged);
    return structuredClone(merged);
  }

  async delete(path: string, opts?: DeleteOptions): Promise<Obj> {
    this.record({ verb: 'delete', path, body: opts });
    const o = this.objects.get(path);
    if (!o) throw new ApiError(404, 'NotFound', `${path} not found`);
    this.objects.delete(path);
    return o;
  }

  /** Calls of one verb, optionally under a path prefix. */
  made(verb: Call['verb'], prefix = ''): Call[] {
    return this.calls.filter((c) => c.verb === verb && c.path.startsWith(prefix));
  }
}

/** RFC 7386 JSON merge patch. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) return patch;
  const t: Obj = typeof target === 'object' && target !== null && !Array.isArray(target) ? (target as Obj) : {};
  for (const [k, v] of Object.entries(patch as Obj)) {
    if (v === null) delete t[k];
    else t[k] = mergePatch(t[k], v);
  }
  return t;
}
