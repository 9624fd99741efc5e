/**
 * Pod startup benchmark: create -> Running and Ready seen by a watch, p50 and
 * p99, for one pod at a time and for a burst of 100 pods on one node, each next
 * to its floor measured in the same run: the same sandbox + app container + CNI
 * ADD done directly through Docker (the agent's own DockerRuntime and
 * CniNetwork code, minus the kubelet), at the same parallelism. Also the
 * agent's RSS with 50 pods running, where the time of a pod goes (docker's
 * Created/StartedAt timestamps of its sandbox and app container, against the
 * watch's), and the CPU the agent, server and Docker burn during each burst.
 *
 * Order: warm-up (one pod of each kind), SINGLE single pods alternating floor
 * and Skiff, 50 pods for the agent's RSS, the floor's burst, Skiff's burst.
 * Each phase's duration goes to stderr, the tables to stdout.
 *
 * A real `skiff server` (scheduler and controllers) and `skiff agent` (node
 * skiff-bench) are started once. The agent tears down every Skiff-labelled
 * container it does not own, so this needs a host where no other agent runs:
 * it waits up to 2 minutes for one, then fails. Everything it creates (pods,
 * containers, IPs, cgroups, processes, temp dirs) is removed, also on failure.
 *
 * Goals (issue): p50 at most 1.15x the floor; single-pod p99 under 1 s; agent
 * RSS with 50 pods under 80 MB.
 *
 * Run (as root): node dist/bench/pods.js [--quick | --rss (the memory rows alone)]
 * Profiling: SKIFF_BENCH_AGENT_LOG=debug (the agent's log level); SKIFF_BENCH_AGENT_NODE_OPTIONS: NODE_OPTIONS
 * of the agent process alone, e.g. '--require /tmp/prof.cjs' with a script that runs node:inspector's
 * Profiler and writes the profile at exit (NODE_OPTIONS refuses --cpu-prof).
 */
import Dockerode from 'dockerode';
import { request } from 'node:https';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import { rmdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CgroupManager, containerResources, hostCgroups, podCgroupPathFor } from '../agent/cgroups/index.js';
import { allHierarchies, detectLayout, dirIn } from '../agent/cgroups/layout.js';
import { SANDBOX_IMAGE } from '../agent/host/images.js';
import { CniNetwork } from '../agent/network/cni.js';
import { DockerRuntime } from '../agent/runtime/docker.js';
import { LABEL_KIND, LABEL_POD_UID } from '../agent/runtime/types.js';
import { isRunningReady, startAgent, type AgentProc } from '../test/agentharness.js';
import { http, removeDir, startServer, waitFor, type ServerProc } from '../test/harness.js';
import { drive, percentile, printRows, type Row } from './report.js';

const quick = process.argv.includes('--quick');
/** Only the agent's memory: warm-up, idle, RSS_PODS pods (for working on the agent's RSS). */
const rssOnly = process.argv.includes('--rss');
const SINGLE = quick ? 10 : 20;
const BURST = 100;
const RSS_PODS = 50;
/** The agent syncs at most this many pods at once (PodWorkers' default parallelism, agent/kubelet/podworkers.ts). */
const PARALLELISM = 16;
const CREATE_CONCURRENCY = 10;
const NS = 'default';
const NODE = 'skiff-bench';
const IMAGE = 'busybox:1.35';
const APP = { name: 'app', image: IMAGE, command: ['sleep', '3600'] };
const FLOOR_NS = 'skiff-bench-floor';
const FLOOR_CGROUP_ROOT = 'skiff-bench';
const FLOOR_KIND = 'skiff-bench.io/kind';
const wall = (): number => performance.timeOrigin + performance.now();
const docker = new Dockerode({ socketPath: '/var/run/docker.sock' });

/**
 * The floor's runtime: DockerRuntime itself (same create/start code, same
 * container configs) except that its containers carry `skiff-bench.io/kind`
 * in place of `skiff.io/kind`. Why: the kubelet rebuilds its view from the
 * containers labelled skiff.io/kind and tears down every pod no source wants,
 * so floor containers with that label would be killed as orphans by the
 * running agent within a relist. Running the floor before starting the agent
 * would avoid that too, but on a quieter host and a CNI config of its own;
 * with the label renamed, the floor runs interleaved with Skiff in the same
 * conditions, on the agent's own CNI network (its conflist, bridge skiff0 and
 * IPAM), and the agent never sees it.
 */
class FloorRuntime extends DockerRuntime {
  constructor() {
    super({ sandboxImage: SANDBOX_IMAGE });
    const create = this.docker.createContainer.bind(this.docker);
    const relabel = (l: Record<string, string> = {}): Record<string, string> => {
      const { [LABEL_KIND]: kind, ...rest } = l;
      return kind ? { ...rest, [FLOOR_KIND]: kind } : rest;
    };
    this.docker.createContainer = ((o: Dockerode.ContainerCreateOptions) => create({ ...o, Labels: relabel(o.Labels) })) as Dockerode['createContainer'];
  }
}

/** Wall-clock instants (ms) of one pod's start, for the breakdown. */
interface Marks {
  t0: number;
  bound?: number;
  sbCreated: number;
  sbStarted: number;
  appCreated: number;
  appStarted: number;
  end: number;
}

interface FloorPod {
  uid: string;
  sandboxId?: string;
  netns?: string;
  appId?: string;
}

/** Everything to undo, filled as it is created. */
const st = {
  server: undefined as ServerProc | undefined,
  agent: undefined as AgentProc | undefined,
  watch: undefined as PodWatch | undefined,
  tmp: mkdtempSync(join(tmpdir(), 'skiff-bench-pods-')),
  floor: new Map<string, FloorPod>(),
  floorUids: new Set<string>(),
  floorCgroups: undefined as CgroupManager | undefined,
  mine: new Set<string>(),
  /** Set by cleanup: creating anything more fails. */
  stopping: false,
};

const rt = new FloorRuntime();
const cni = new CniNetwork(join(st.tmp, 'cni'));

/** Docker's Created and StartedAt of two containers (ms), from inspect. */
async function dockerMarks(sandboxId: string, appId: string): Promise<Omit<Marks, 't0' | 'end' | 'bound'>> {
  const [sb, app] = await Promise.all([docker.getContainer(sandboxId).inspect(), docker.getContainer(appId).inspect()]);
  return { sbCreated: Date.parse(sb.Created), sbStarted: Date.parse(sb.State.StartedAt), appCreated: Date.parse(app.Created), appStarted: Date.parse(app.State.StartedAt) };
}

/** Operations that create something, in flight: cleanup waits for them before it sweeps. */
const inflight = new Set<Promise<unknown>>();
function tracked<A extends unknown[], T>(f: (...a: A) => Promise<T>): (...a: A) => Promise<T> {
  return (...a) => {
    if (st.stopping) return Promise.reject(new Error('the benchmark is stopping'));
    const p = f(...a);
    inflight.add(p);
    p.then(() => inflight.delete(p), () => inflight.delete(p));
    return p;
  };
}

/** One floor pod: sandbox, CNI ADD on its netns, app container joined to it, started. Resolves when the app runs. */
const floorStart = tracked(async (i: number): Promise<Marks> => {
  const uid = randomUUID();
  const name = `floor-${i < 0 ? 'warm' : i}`;
  const pod = { uid, name, namespace: FLOOR_NS };
  const fp: FloorPod = { uid };
  st.floor.set(uid, fp);
  st.floorUids.add(uid);
  // The same BestEffort layout as the agent's pods (class cpu.shares 2), under a root of the bench's own.
  const cgroupParent = podCgroupPathFor(uid, 'BestEffort', FLOOR_CGROUP_ROOT);
  // The files the kubelet bind-mounts into every container, so the app container's config is the same.
  const dir = join(st.tmp, 'floor', uid);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'hosts'), `127.0.0.1\tlocalhost\n`);
  writeFileSync(join(dir, 'resolv.conf'), 'nameserver 10.96.0.10\n');
  writeFileSync(join(dir, 'termination-log'), '');
  const t0 = wall();
  const sb = await rt.runSandbox({ pod, attempt: 0, hostname: name, cgroupParent, hostNetwork: false });
  fp.sandboxId = sb.id;
  fp.netns = sb.netnsPath;
  await cni.add({ containerId: sb.id, netns: sb.netnsPath!, ifName: 'eth0', args: { IgnoreUnknown: '1', K8S_POD_NAMESPACE: FLOOR_NS, K8S_POD_NAME: name, K8S_POD_INFRA_CONTAINER_ID: sb.id, K8S_POD_UID: uid } });
  fp.appId = await rt.createContainer({
    pod, sandboxId: sb.id, name: APP.name, attempt: 0, image: IMAGE, command: APP.command, env: [], cgroupParent, specHash: 'floor',
    mounts: [{ hostPath: join(dir, 'hosts'), containerPath: '/etc/hosts' }, { hostPath: join(dir, 'resolv.conf'), containerPath: '/etc/resolv.conf' }, { hostPath: join(dir, 'termination-log'), containerPath: '/dev/termination-log' }],
    resources: containerResources(APP),
    terminationMessagePath: '/dev/termination-log',
  });
  await rt.startContainer(fp.appId);
  const end = wall();
  return { t0, end, ...(await dockerMarks(sb.id, fp.appId)) };
});

/** CNI DEL (releases the IP), then both containers removed. Idempotent. */
async function floorStop(fp: FloorPod): Promise<void> {
  if (fp.sandboxId) await cni.del({ containerId: fp.sandboxId, netns: fp.netns ?? '', ifName: 'eth0' });
  if (fp.appId) await rt.removeContainer(fp.appId);
  if (fp.sandboxId) await rt.removeSandbox(fp.sandboxId);
  st.floor.delete(fp.uid);
}

/** Pods in the bench namespace as one watch sees them: when each was first bound, first Running+Ready, deleted. */
class PodWatch {
  readonly bound = new Map<string, number>();
  readonly running = new Map<string, number>();
  readonly deleted = new Set<string>();
  private rv = '';
  private stopped = false;
  private req?: ReturnType<typeof request>;
  private wake: (() => void)[] = [];

  constructor(private readonly s: ServerProc) {}

  async start(): Promise<void> {
    const r = await http(this.s, 'GET', `/api/v1/namespaces/${NS}/pods`);
    this.rv = r.json().metadata.resourceVersion;
    this.connect();
  }

  private connect(): void {
    if (this.stopped) return;
    const path = `/api/v1/namespaces/${NS}/pods?watch=true&allowWatchBookmarks=true&timeoutSeconds=3600&resourceVersion=${this.rv}`;
    this.req = request({ host: '127.0.0.1', port: this.s.port, path, ca: this.s.ca, servername: 'localhost', agent: false, headers: { authorization: `Bearer ${this.s.token}` } }, (res) => {
      let buf = '';
      res.on('data', (c) => {
        buf += c;
        for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
          this.onEvent(buf.slice(0, i));
          buf = buf.slice(i + 1);
        }
      });
      res.on('end', () => this.connect());
      res.on('error', () => undefined);
    });
    this.req.on('error', () => (this.stopped ? undefined : setTimeout(() => this.connect(), 200)));
    this.req.end();
  }

  private onEvent(line: string): void {
    if (!line.trim()) return;
    const now = wall();
    const ev = JSON.parse(line) as { type: string; object: any }; // eslint-disable-line @typescript-eslint/no-explicit-any
    // 410 Gone: start again from now (only after a very long disconnect).
    if (ev.type === 'ERROR') return void (this.rv = '');
    const p = ev.object;
    if (p?.metadata?.resourceVersion) this.rv = p.metadata.resourceVersion;
    if (ev.type === 'BOOKMARK') return;
    const uid = p.metadata.uid as string;
    if (ev.type === 'DELETED') this.deleted.add(uid);
    if (p.spec?.nodeName && !this.bound.has(uid)) this.bound.set(uid, now);
    if (isRunningReady(p) && !this.running.has(uid)) this.running.set(uid, now);
    for (const w of this.wake.splice(0)) w();
  }

  /** Resolves once `cond` holds (checked on every event, and every 250 ms), or fails after `ms`. */
  until(cond: () => boolean, what: string, ms: number): Promise<void> {
    const end = Date.now() + ms;
    return new Promise((resolve, reject) => {
      const timer = setInterval(check, 250);
      function check(): void {
        if (cond()) return void (clearInterval(timer), resolve());
        if (Date.now() > end) return void (clearInterval(timer), reject(new Error(`timed out after ${ms} ms waiting for ${what}`)));
      }
      const onEvent = (): void => {
        check();
        if (!cond() && Date.now() <= end) this.wake.push(onEvent);
      };
      onEvent();
    });
  }

  stop(): void {
    this.stopped = true;
    this.req?.destroy();
  }
}

/** POSTs a pod; returns its uid and the instant the request started. */
const createPod = tracked(async (s: ServerProc, name: string): Promise<{ uid: string; t0: number }> => {
  const t0 = wall();
  const body = { apiVersion: 'v1', kind: 'Pod', metadata: { name, labels: { bench: 'pods' } }, spec: { containers: [APP] } };
  const r = await http(s, 'POST', `/api/v1/namespaces/${NS}/pods`, JSON.stringify(body));
  if (r.status !== 201) throw new Error(`create pod ${name}: ${r.status} ${r.body.slice(0, 300)}`);
  const uid = r.json().metadata.uid as string;
  st.mine.add(uid);
  return { uid, t0 };
});

/** Uids of every pod Docker still holds a Skiff container of. */
async function dockerPodUids(): Promise<Set<string>> {
  const list = await docker.listContainers({ all: true, filters: { label: [LABEL_KIND] } });
  return new Set(list.map((c) => c.Labels[LABEL_POD_UID]));
}

/** Deletes pods (grace 0: gone from the API at once) and waits until the agent removed their containers. */
async function deletePods(s: ServerProc, w: PodWatch, pods: { name: string; uid: string }[]): Promise<void> {
  await drive(pods.length, CREATE_CONCURRENCY, async (i) => {
    const r = await http(s, 'DELETE', `/api/v1/namespaces/${NS}/pods/${pods[i].name}?gracePeriodSeconds=0`);
    if (r.status >= 300 && r.status !== 404) throw new Error(`delete pod ${pods[i].name}: ${r.status} ${r.body.slice(0, 300)}`);
  });
  await w.until(() => pods.every((p) => w.deleted.has(p.uid)), 'pods deleted in the API', 30_000);
  // Polled every 250 ms, not 50: a docker ps of 100 pods 20 times a second would slow the teardown it waits for.
  const end = Date.now() + 120_000;
  for (;;) {
    const left = await dockerPodUids();
    if (pods.every((p) => !left.has(p.uid))) return;
    if (Date.now() > end) throw new Error(`timed out after 120 s waiting for the agent to remove the containers of ${pods.length} pod(s)`);
    await sleep(250);
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Times a `docker ps` of the containers labelled `label` (what the kubelet's relist lists) once a
 * second until the returned function is called, which gives the latencies: how loaded dockerd is.
 */
function probeDockerPs(label: string): () => number[] {
  const lat: number[] = [];
  let on = true;
  void (async () => {
    while (on) {
      const t = performance.now();
      await docker.listContainers({ all: true, filters: { label: [label] } }).catch(() => undefined);
      lat.push(performance.now() - t);
      await sleep(1000);
    }
  })();
  return () => ((on = false), lat);
}

/** The sandbox and app container of a Skiff pod (by its uid label). */
async function skiffContainers(uid: string): Promise<{ sandboxId: string; appId: string }> {
  const list = await docker.listContainers({ all: true, filters: { label: [`${LABEL_POD_UID}=${uid}`] } });
  const sandboxId = list.find((c) => c.Labels[LABEL_KIND] === 'sandbox')?.Id;
  const appId = list.find((c) => c.Labels[LABEL_KIND] === 'container')?.Id;
  if (!sandboxId || !appId) throw new Error(`pod ${uid}: no sandbox or app container in docker`);
  return { sandboxId, appId };
}

interface Rss {
  rss: number;
  /** Peak RSS so far. */
  hwm: number;
  /** Private memory (heap and the like) and mapped files (the node binary's text, shared with other node processes). */
  anon: number;
  file: number;
}

/** A process's memory from /proc/<pid>/status, in MB. */
function rssMB(pid: number): Rss {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const mb = (k: string): number => Number(new RegExp(`${k}:\\s+(\\d+) kB`).exec(text)?.[1] ?? NaN) / 1024;
  return { rss: mb('VmRSS'), hwm: mb('VmHWM'), anon: mb('RssAnon'), file: mb('RssFile') };
}

/** The RSS floor: a node process of the same binary that loaded nothing and idles. */
async function bareNodeRss(): Promise<Rss> {
  const p = spawn(process.execPath, ['-e', "process.stdout.write('up\\n'); setInterval(() => undefined, 1e6)"], { stdio: ['ignore', 'pipe', 'ignore'] });
  try {
    await new Promise<void>((resolve, reject) => {
      p.stdout.once('data', () => resolve());
      p.once('exit', (code) => reject(new Error(`bare node exited with ${code}`)));
    });
    return rssMB(p.pid!);
  } finally {
    p.kill('SIGKILL');
  }
}

/** Another Skiff agent, or Skiff containers, on this host: its kubelet and ours would tear down each other's pods. */
async function otherAgent(): Promise<string | undefined> {
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p) && Number(p) !== st.agent?.proc.pid)) {
    let cmd = '';
    try {
      cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    if (!/(main\.js|skiff)\0agent(\0|$)/.test(cmd)) continue;
    // Agents of lab nodes drive a nested dockerd: only one that sees this host's Docker socket competes with ours.
    const sock = (root: string): string => {
      try {
        const x = statSync(`${root}/run/docker.sock`); // not /var/run: an absolute symlink would resolve in our root
        return `${x.dev}:${x.ino}`;
      } catch {
        return '';
      }
    };
    if (sock(`/proc/${pid}/root`) === sock('')) return `a Skiff agent runs (pid ${pid}: ${cmd.replace(/\0/g, ' ').slice(0, 120)})`;
  }
  // Pods of an agent between two restarts (e2e tests); older ones are leftovers, which our agent removes as orphans.
  const recent = (await docker.listContainers({ all: true, filters: { label: [LABEL_KIND] } })).filter((c) => !st.mine.has(c.Labels[LABEL_POD_UID]) && Date.now() / 1000 - c.Created < 600);
  return recent.length ? `${recent.length} recent container(s) of another Skiff agent are in Docker` : undefined;
}

const stats = (v: number[]): Pick<Row, 'value' | 'p50' | 'p99'> => ({ value: percentile(v, 50), p50: percentile(v, 50), p99: percentile(v, 99) });
const ratio = (a: number[], b: number[]): number => percentile(a, 50) / percentile(b, 50);
const met = (ok: boolean, goal: string): string => `${goal}: ${ok ? 'met' : 'MISSED'}`;

/** Rows of where one pod's time goes: Skiff against the floor, phase by phase (p50/p99 over the single-pod runs). */
function breakdown(sk: Marks[], fl: Marks[]): Row[] {
  const phases: [string, (m: Marks) => number | undefined, boolean][] = [
    ['create POST -> bound seen by watch (scheduler)', (m) => (m.bound === undefined ? undefined : m.bound - m.t0), false],
    ['bound -> sandbox created (informer, worker, relist, cgroup, volumes) | floor: t0 -> created', (m) => m.sbCreated - (m.bound ?? m.t0), true],
    ['sandbox created -> started (docker)', (m) => m.sbStarted - m.sbCreated, true],
    ['sandbox started -> app created (inspect, CNI ADD, image, env, mounts)', (m) => m.appCreated - m.sbStarted, true],
    ['app created -> started (docker)', (m) => m.appStarted - m.appCreated, true],
    ['app started -> Running seen by watch (relist, status) | floor: start returned', (m) => m.end - m.appStarted, true],
  ];
  const rows: Row[] = [];
  for (const [name, f, both] of phases) {
    const a = sk.map(f).filter((x): x is number => x !== undefined);
    const b = fl.map(f).filter((x): x is number => x !== undefined);
    rows.push({ name: `skiff: ${name}`, unit: 'ms', ...stats(a), ...(both ? { ratio: ratio(a, b) } : {}) });
    if (both) rows.push({ name: '  floor', unit: 'ms', ...stats(b) });
  }
  return rows;
}

/** CPU seconds so far of the agent, the server, dockerd, containerd, and the whole machine (busy time, every process). */
function cpuNow(): Record<string, number> {
  const ticks = (pid: number | undefined): number => {
    if (!pid) return NaN;
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after "pid (comm) ": state is [0], utime [11], stime [12] (clock ticks, 100 per second).
    const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return Number(f[11]) + Number(f[12]);
  };
  // This host's daemon: lab nodes run dockerds of their own (other mount namespaces), often with lower pids.
  const mnt = readlinkSync('/proc/self/ns/mnt');
  const byName = (comm: string): number | undefined => readdirSync('/proc').filter((p) => /^\d+$/.test(p)).map(Number).find((p) => {
    try {
      return readFileSync(`/proc/${p}/comm`, 'utf8').trim() === comm && readlinkSync(`/proc/${p}/ns/mnt`) === mnt;
    } catch {
      return false;
    }
  });
  const [, ...t] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).map(Number);
  const machine = t.slice(0, 8).reduce((a, b) => a + b, 0) - t[3] - t[4];
  return { agent: ticks(st.agent?.proc.pid) / 100, server: ticks(st.server?.proc.pid) / 100, dockerd: ticks(byName('dockerd')) / 100, containerd: ticks(byName('containerd')) / 100, machine: machine / 100 };
}

const cpuSince = (before: Record<string, number>): Record<string, number> => Object.fromEntries(Object.entries(cpuNow()).map(([k, v]) => [k, v - before[k]]));

/** Runs a phase, printing how long it took (stderr), so the run's time budget is visible. */
async function phase<T>(name: string, f: () => Promise<T>): Promise<T> {
  const t = wall();
  const r = await f();
  console.error(`[pods bench] ${name}: ${((wall() - t) / 1000).toFixed(1)} s`);
  return r;
}

/** One pod at a time, floor and Skiff alternating so load from elsewhere hits both alike. */
async function singles(s: ServerProc, w: PodWatch): Promise<{ sk: Marks[]; fl: Marks[] }> {
  const sk: Marks[] = [];
  const fl: Marks[] = [];
  for (let i = 0; i < SINGLE; i++) {
    fl.push(await floorStart(i));
    for (const fp of [...st.floor.values()]) await floorStop(fp);
    const name = `single-${i}`;
    const { uid, t0 } = await createPod(s, name);
    await w.until(() => w.running.has(uid), `${name} Running`, 60_000);
    sk.push(await skiffMarks(w, uid, t0));
    await deletePods(s, w, [{ name, uid }]);
  }
  return { sk, fl };
}

async function skiffMarks(w: PodWatch, uid: string, t0: number): Promise<Marks> {
  const ids = await skiffContainers(uid);
  return { t0, bound: w.bound.get(uid), end: w.running.get(uid)!, ...(await dockerMarks(ids.sandboxId, ids.appId)) };
}

/** Creates `n` pods, CREATE_CONCURRENCY POSTs in flight, and waits until the watch saw each Running. */
async function createMany(s: ServerProc, w: PodWatch, prefix: string, n: number): Promise<{ name: string; uid: string; t0: number }[]> {
  const pods = Array.from({ length: n }, (_, i) => ({ name: `${prefix}-${i}`, uid: '', t0: 0 }));
  await drive(n, CREATE_CONCURRENCY, async (i) => void Object.assign(pods[i], await createPod(s, pods[i].name)));
  await w.until(() => pods.every((p) => w.running.has(p.uid)), `${n} ${prefix} pods Running`, 240_000);
  return pods;
}

interface Burst {
  /** Per pod, from the burst's start until running. */
  lat: number[];
  wallMs: number;
  marks: Marks[];
  cpu: Record<string, number>;
  /** docker ps latencies during the burst (probeDockerPs). */
  ps: number[];
}

/** The floor starts BURST pods, PARALLELISM at a time (the agent's pod-worker parallelism); latencies count from the burst's start. */
async function floorBurst(): Promise<Burst> {
  const cpu0 = cpuNow();
  const probe = probeDockerPs(FLOOR_KIND);
  const t0 = wall();
  const marks: Marks[] = [];
  await drive(BURST, PARALLELISM, async (i) => void marks.push({ ...(await floorStart(100 + i)), t0 }));
  const wallMs = wall() - t0;
  const cpu = cpuSince(cpu0);
  const ps = probe();
  const started = [...st.floor.values()];
  await drive(started.length, PARALLELISM, (i) => floorStop(started[i]));
  return { lat: marks.map((m) => m.end - t0), wallMs, marks, cpu, ps };
}

/** Skiff: BURST pods created at once, each timed from the burst's start until the watch sees it Running. */
async function skiffBurst(s: ServerProc, w: PodWatch, pid: number): Promise<Burst & { rss: Rss }> {
  const cpu0 = cpuNow();
  const probe = probeDockerPs(LABEL_KIND);
  const t0 = wall();
  const pods = await createMany(s, w, 'burst', BURST);
  const lat = pods.map((p) => w.running.get(p.uid)! - t0);
  const cpu = cpuSince(cpu0);
  const ps = probe();
  const rss = rssMB(pid);
  const marks = await Promise.all(pods.map((p) => skiffMarks(w, p.uid, p.t0)));
  await deletePods(s, w, pods);
  return { lat, wallMs: Math.max(...lat), marks, cpu, rss, ps };
}

/**
 * The agent's RSS with RSS_PODS pods running, created at once on an empty node: the highest of 10
 * samples over 3 s once all run. Measured on its own round, not by deleting half of the burst:
 * the teardown of 50 pods itself raises the RSS by ~25 MB (measured), which is not the steady state.
 */
async function rssWith(s: ServerProc, w: PodWatch, pid: number): Promise<Rss> {
  const pods = await createMany(s, w, 'rss', RSS_PODS);
  let max = rssMB(pid);
  for (let i = 0; i < 10; i++) {
    const r = rssMB(pid);
    if (r.rss > max.rss) max = r;
    await sleep(300);
  }
  await deletePods(s, w, pods);
  return max;
}

const loadavg = (): string => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('the pod benchmark needs root (Docker, CNI, cgroups)');
  let busy = await otherAgent();
  if (busy) {
    console.log(`waiting for the host to be free of other Skiff agents (${busy})`);
    await waitFor(async () => !(busy = await otherAgent()), 'no other Skiff agent on this host', 120_000).catch(() => {
      throw new Error(`another Skiff agent uses this host: ${busy}; its kubelet and the benchmark's would tear down each other's pods`);
    });
  }
  // Data dirs inside the bench's temp dir, so cleanup removes them even when a start fails half-way.
  for (const d of ['server', 'agent']) mkdirSync(join(st.tmp, d));
  const s = (st.server = await startServer({ dataDir: join(st.tmp, 'server'), extraArgs: ['--log-level', 'error'] }));
  // Profiling hooks: the agent's log level, and node options for the agent process alone.
  const nodeOptions = process.env.NODE_OPTIONS;
  if (process.env.SKIFF_BENCH_AGENT_NODE_OPTIONS) process.env.NODE_OPTIONS = process.env.SKIFF_BENCH_AGENT_NODE_OPTIONS;
  const agent = (st.agent = await startAgent(s, { nodeName: NODE, dataDir: join(st.tmp, 'agent'), extraArgs: process.env.SKIFF_BENCH_AGENT_LOG ? ['--log-level', process.env.SKIFF_BENCH_AGENT_LOG] : [] }).finally(() => {
    if (nodeOptions === undefined) delete process.env.NODE_OPTIONS;
    else process.env.NODE_OPTIONS = nodeOptions;
  }));
  const pid = agent.proc.pid!;
  await waitFor(async () => {
    const n = (await http(s, 'GET', `/api/v1/nodes/${NODE}`)).json();
    return n.spec?.podCIDR && !n.spec?.taints?.length && n.status?.conditions?.some((c: { type: string; status: string }) => c.type === 'Ready' && c.status === 'True');
  }, `node ${NODE} Ready, untainted, with a podCIDR`, 60_000);
  st.floorCgroups = new CgroupManager({ layout: await detectLayout(), root: FLOOR_CGROUP_ROOT });
  await st.floorCgroups.ensureQosCgroups();
  const w = (st.watch = new PodWatch(s));
  await w.start();

  // Warm-up, not measured: the first pod of each kind pays one-off costs (bridge, image and cgroup caches).
  await phase('warm-up', async () => {
    await floorStart(-1);
    for (const fp of [...st.floor.values()]) await floorStop(fp);
    const warm = await createPod(s, 'warm');
    await w.until(() => w.running.has(warm.uid), 'warm-up pod Running', 60_000);
    await deletePods(s, w, [{ name: 'warm', uid: warm.uid }]);
  });
  const idle = rssMB(pid);
  const bare = await bareNodeRss();
  const mem = (r: Rss): string => `MB (anon ${r.anon.toFixed(0)}, file ${r.file.toFixed(0)})`;
  /** The agent's RSS with RSS_PODS pods (the goal), idle, and the bare node floor. */
  const memoryRows = (r: Rss): Row[] => [
    { name: `agent RSS with ${RSS_PODS} pods`, value: r.rss, unit: mem(r), ratio: r.rss / bare.rss, goal: met(r.rss < 80, '< 80 MB') },
    { name: 'agent RSS idle (after warm-up)', value: idle.rss, unit: mem(idle), ratio: idle.rss / bare.rss },
    { name: 'bare node process, same binary (floor)', value: bare.rss, unit: mem(bare) },
  ];
  if (rssOnly) {
    const r = await phase(`${RSS_PODS} pods for the agent's RSS`, () => rssWith(s, w, pid));
    printRows('Agent memory, this machine', memoryRows(r));
    return;
  }
  const load0 = loadavg();
  const { sk, fl } = await phase(`${SINGLE} single pods, floor and Skiff`, () => singles(s, w));

  const rss50 = await phase(`${RSS_PODS} pods for the agent's RSS`, () => rssWith(s, w, pid));
  const fb = await phase(`floor burst of ${BURST}`, floorBurst);
  const sb = await phase(`Skiff burst of ${BURST}`, () => skiffBurst(s, w, pid));

  const skLat = sk.map((m) => m.end - m.t0);
  const flLat = fl.map((m) => m.end - m.t0);
  const r1 = ratio(skLat, flLat);
  const rb = ratio(sb.lat, fb.lat);
  printRows(`Pod startup, one node (${NODE}), this machine: Skiff vs the same work done directly through Docker`, [
    { name: `1 pod: create -> Running seen (${SINGLE} sequential)`, unit: 'ms p50', ...stats(skLat), ratio: r1, goal: `${met(r1 <= 1.15, '<= 1.15x')}; ${met(percentile(skLat, 99) < 1000, 'p99 < 1 s')}` },
    { name: '1 pod: sandbox + app + CNI ADD via Docker (floor)', unit: 'ms p50', ...stats(flLat) },
    { name: `${BURST} pods at once: create -> Running seen`, unit: 'ms p50', ...stats(sb.lat), ratio: rb, goal: met(rb <= 1.15, '<= 1.15x') },
    { name: `${BURST} pods via Docker, ${PARALLELISM} at once (floor)`, unit: 'ms p50', ...stats(fb.lat) },
    { name: `${BURST} pods at once: all Running`, value: sb.wallMs, unit: 'ms wall', ratio: sb.wallMs / fb.wallMs },
    { name: `${BURST} pods via Docker: all running (floor)`, value: fb.wallMs, unit: 'ms wall' },
    ...memoryRows(rss50),
    { name: `agent RSS with ${BURST} pods (burst)`, value: sb.rss.rss, unit: `${mem(sb.rss)}, peak ${sb.rss.hwm.toFixed(0)}` },
  ]);
  printRows(`Where one pod's time goes (${SINGLE} single-pod runs; docker Created/StartedAt timestamps)`, breakdown(sk, fl));
  printRows(`Where time goes in the burst (floor: t0 = the burst's start, so its queueing shows in the first phase)`, [
    ...breakdown(sb.marks, fb.marks),
    { name: 'docker ps of the pods\' containers (as a relist), once a second during the burst', unit: 'ms', ...stats(sb.ps), ratio: ratio(sb.ps, fb.ps) },
    { name: '  floor', unit: 'ms', ...stats(fb.ps) },
  ]);
  printRows('CPU used while the burst started (machine: busy time of every process, others on the host included)', Object.keys(sb.cpu).flatMap((k) => [
    { name: `skiff burst: ${k}`, value: sb.cpu[k] * 1000, unit: 'ms CPU', ratio: sb.cpu[k] / fb.cpu[k] },
    { name: `  floor burst: ${k}`, value: fb.cpu[k] * 1000, unit: 'ms CPU' },
  ]));
  console.log(`\nhost load average (1, 5, 15 min): ${load0} at the start, ${loadavg()} at the end (2 cores)`);
  const late = await otherAgent();
  if (late) console.log(`\nWARNING: ${late} appeared during the run: the figures may be disturbed.`);
}

/** Undoes everything, best effort, in order; safe to call twice. */
let cleaning: Promise<void> | undefined;
function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    const note = (what: string) => (e: unknown) => console.error(`cleanup: ${what}: ${(e as Error).message}`);
    // Whatever main is doing now fails at its next create, so nothing new appears behind our back.
    st.stopping = true;
    await Promise.allSettled([...inflight]);
    st.watch?.stop();
    const { server: s, agent } = st;
    const alive = (p?: { proc: { exitCode: number | null; signalCode: string | null } }): boolean => !!p && p.proc.exitCode === null && p.proc.signalCode === null;
    if (s && alive(s) && alive(agent) && st.mine.size) {
      await http(s, 'DELETE', `/api/v1/namespaces/${NS}/pods?gracePeriodSeconds=0`).catch(note('delete pods'));
      await waitFor(async () => !alive(agent) || ![...(await dockerPodUids())].some((u) => st.mine.has(u)), 'the agent to remove the pods', 120_000).catch(note('pods'));
    }
    // The floor's pods, and whatever the agent could not remove (it died, or timed out): IPs released, containers removed.
    const agentCni = agent ? new CniNetwork(join(agent.dataDir, 'cni')) : undefined;
    for (const [label, uids, net] of [[FLOOR_KIND, st.floorUids, cni], [LABEL_KIND, st.mine, agentCni]] as const) {
      const left = (await docker.listContainers({ all: true, filters: { label: [label] } }).catch(() => [])).filter((c) => uids.has(c.Labels[LABEL_POD_UID]));
      for (const c of left.filter((x) => x.Labels[label] === 'sandbox')) {
        const pid = (await docker.getContainer(c.Id).inspect().catch(() => undefined))?.State.Pid;
        await net?.del({ containerId: c.Id, netns: pid ? `/proc/${pid}/ns/net` : '', ifName: 'eth0' }).catch(note(`CNI DEL ${c.Id}`));
      }
      for (const c of left) await docker.getContainer(c.Id).remove({ force: true, v: true }).catch(note(`remove ${c.Id}`));
    }
    await agent?.stop().catch(note('agent'));
    await s?.stop().catch(note('server'));
    // Pod cgroups: runc/Docker release them asynchronously, so retry for a while.
    const host = await hostCgroups().catch(() => undefined);
    await waitFor(async () => {
      for (const u of st.mine) await host?.removePodCgroup(u);
      for (const u of st.floorUids) await st.floorCgroups?.removePodCgroup(u);
      return true;
    }, 'pod cgroups removed', 10_000).catch(note('cgroups'));
    if (st.floorCgroups) {
      for (const h of allHierarchies(st.floorCgroups.layout)) {
        for (const p of ['burstable', 'besteffort', '']) await rmdir(dirIn(h, `/${FLOOR_CGROUP_ROOT}${p ? `/${p}` : ''}`)).catch((e: NodeJS.ErrnoException) => e.code === 'ENOENT' || note(`cgroup ${h.dir}`)(e));
      }
    }
    removeDir(st.tmp);
  })();
  return cleaning;
}

for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => void cleanup().finally(() => process.exit(130)));

main()
  .catch((e) => {
    console.error(e);
    process.exitCode = 1;
  })
  .finally(() => cleanup());
