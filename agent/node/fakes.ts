/**
 * Test support for the node layer's unit tests: an in-memory Api (objects by
 * path, resourceVersion conflicts on update, JSON merge patch) that can be
 * made to fail, and NodeReadings with settable figures. The end-to-end test
 * (test/node-agent.test.ts) runs the real API server and the real readings.
 */
import { ApiError, type Api, type PatchType } from '../../controlplane/controllers/client.js';
import type { Obj } from '../../controlplane/controllers/objects.js';
import type { CgroupStats } from '../cgroups/stats.js';
import type { FsStats, HostCapacity, NodeReadings, PidStats, UsageSample } from './readings.js';

/** RFC 7386 merge patch. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return structuredClone(patch);
  const out: Obj = target !== null && typeof target === 'object' && !Array.isArray(target) ? structuredClone(target as Obj) : {};
  for (const [k, v] of Object.entries(patch as Obj)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

const notFound = (path: string): ApiError => new ApiError(404, 'NotFound', `${path} not found`);

export class FakeApi implements Api {
  readonly objects = new Map<string, Obj>();
  /** Every call as `VERB path`, in order. */
  readonly calls: string[] = [];
  /** When set, calls whose `VERB path` matches fail with this error. */
  failing?: { match: RegExp; error: Error };
  private rv = 1;
  private uid = 1;

  private check(verb: string, path: string): void {
    this.calls.push(`${verb} ${path}`);
    if (this.failing?.match.test(`${verb} ${path}`)) throw this.failing.error;
  }

  /** The object path of a subresource path (`/api/v1/nodes/a/status` -> `/api/v1/nodes/a`). */
  private base(path: string): string {
    return path.replace(/\/status$/, '');
  }

  async get(path: string): Promise<Obj> {
    this.check('GET', path);
    const o = this.objects.get(this.base(path));
    if (!o) throw notFound(path);
    return structuredClone(o);
  }

  async list(path: string): Promise<Obj> {
    this.check('LIST', path);
    return { items: [...this.objects.entries()].filter(([k]) => k.startsWith(`${path}/`)).map(([, v]) => structuredClone(v)) };
  }

  async create(path: string, body: Obj): Promise<Obj> {
    this.check('POST', path);
    const key = `${path}/${body.metadata.name}`;
    if (this.objects.has(key)) throw new ApiError(409, 'AlreadyExists', `${key} already exists`);
    const o = structuredClone(body);
    o.metadata = { ...o.metadata, uid: `uid-${this.uid++}`, resourceVersion: String(this.rv++) };
    this.objects.set(key, o);
    return structuredClone(o);
  }

  async update(path: string, body: Obj): Promise<Obj> {
    this.check('PUT', path);
    const cur = this.objects.get(this.base(path));
    if (!cur) throw notFound(path);
    if (body.metadata?.resourceVersion && body.metadata.resourceVersion !== cur.metadata.resourceVersion) {
      throw new ApiError(409, 'Conflict', `${path}: the object has been modified`);
    }
    const o = structuredClone(body);
    o.metadata = { ...o.metadata, uid: cur.metadata.uid, resourceVersion: String(this.rv++) };
    this.objects.set(this.base(path), o);
    return structuredClone(o);
  }

  async patch(path: string, body: unknown, _type?: PatchType): Promise<Obj> {
    this.check('PATCH', path);
    const key = this.base(path);
    const cur = this.objects.get(key);
    if (!cur) throw notFound(path);
    // The status subresource takes only status; the main resource ignores status, as the API server.
    const b = body as Obj;
    const patch = path.endsWith('/status') ? { status: b.status } : { ...b, status: undefined };
    const o = mergePatch(cur, JSON.parse(JSON.stringify(patch))) as Obj;
    o.metadata.resourceVersion = String(this.rv++);
    this.objects.set(key, o);
    return structuredClone(o);
  }

  async delete(path: string): Promise<Obj> {
    this.check('DELETE', path);
    if (!this.objects.delete(path)) throw notFound(path);
    return {};
  }
}

/** Readings with plain fields tests set. */
export class FakeReadings implements NodeReadings {
  cap: HostCapacity = { hostMilliCpu: 4000, hostMemoryBytes: 8 * 2 ** 30 };
  fsStats: FsStats = { capacityBytes: 100 * 2 ** 30, availableBytes: 50 * 2 ** 30, inodes: 1_000_000, inodesFree: 900_000 };
  pidStats: PidStats = { max: 32768, running: 300 };
  usage: Omit<UsageSample, 'time'> = { cpuUsageNs: 0, memoryUsageBytes: 2 * 2 ** 30, memoryWorkingSetBytes: 2 ** 30 };
  cgroups = new Map<string, CgroupStats>();
  boot = Date.parse('2024-12-31T00:00:00Z');

  async capacity(): Promise<HostCapacity> {
    return { ...this.cap };
  }
  async fs(): Promise<FsStats> {
    return { ...this.fsStats };
  }
  async pids(): Promise<PidStats> {
    return { ...this.pidStats };
  }
  async nodeUsage(): Promise<Omit<UsageSample, 'time'>> {
    return { ...this.usage };
  }
  async cgroup(path: string): Promise<CgroupStats | undefined> {
    const s = this.cgroups.get(path);
    return s && { ...s };
  }
  async bootTime(): Promise<number> {
    return this.boot;
  }
  async podCgroups(): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for (const p of this.cgroups.keys()) {
      const m = /\/pod([^/]+)$/.exec(p);
      if (m) out.set(m[1], p);
    }
    return out;
  }
}
