/**
 * What to do to bring a pod's containers to its spec: a pure function of the
 * pod, what the runtime relist shows for it, and the kubelet's memory (backoff,
 * failed liveness probes). Modelled on kuberuntime_manager's computePodActions.
 *
 * Rules:
 * - A pod needs a (new) sandbox when it has none ready. A new sandbox means
 *   every container starts again (init containers first) except those that
 *   finished for good (OnFailure, exit 0); a pod whose containers have all
 *   finished for good, or a Never pod any of whose containers (init included)
 *   ran, gets no new sandbox.
 * - Init containers run one at a time, in order; a failed one is retried per
 *   restartPolicy (Never: the pod fails).
 * - App containers start once every init container has succeeded in the
 *   current sandbox; an exited one restarts per restartPolicy after backoff;
 *   a running one restarts when its spec changed or its liveness probe failed.
 */
import { createHash } from 'node:crypto';
import type { ContainerStatus, SandboxStatus } from '../runtime/types.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Obj = any;

export interface RuntimePod {
  uid: string;
  /** Newest first. */
  sandboxes: SandboxStatus[];
  /** Every container instance of the pod, newest first. */
  containers: ContainerStatus[];
}

/** Groups a relist by pod uid, newest first. */
export function groupByPod(sandboxes: SandboxStatus[], containers: ContainerStatus[]): Map<string, RuntimePod> {
  const m = new Map<string, RuntimePod>();
  const get = (uid: string): RuntimePod => {
    let p = m.get(uid);
    if (!p) m.set(uid, (p = { uid, sandboxes: [], containers: [] }));
    return p;
  };
  for (const s of sandboxes) get(s.pod.uid).sandboxes.push(s);
  for (const c of containers) get(c.pod.uid).containers.push(c);
  for (const p of m.values()) {
    p.sandboxes.sort((a, b) => b.attempt - a.attempt || b.createdAt.getTime() - a.createdAt.getTime());
    p.containers.sort((a, b) => b.attempt - a.attempt || b.createdAt.getTime() - a.createdAt.getTime());
  }
  return m;
}

/** The hash that decides whether a running container still matches its spec. */
export function containerHash(c: Obj): string {
  const { resources: _r, ...rest } = c ?? {};
  return createHash('sha256').update(JSON.stringify(rest)).digest('hex').slice(0, 16);
}

export interface StartAction {
  container: Obj;
  init: boolean;
  attempt: number;
}

export interface KillAction {
  id: string;
  name: string;
  reason: string;
}

export interface PodActions {
  /** Stop every container and the sandbox (sandbox changed, or pod finished). */
  killPod: boolean;
  createSandbox: boolean;
  sandboxAttempt: number;
  /** Start these (at most one init container). */
  start: StartAction[];
  kill: KillAction[];
  /** The pod failed for good (an init container failed under restartPolicy Never). */
  podFailed?: string;
  /** Containers waiting for their backoff: name -> until (ms epoch). */
  backoff: Map<string, number>;
  /** Old exited instances to remove (the newest two per name are kept, for `logs --previous`). */
  prune: string[];
}

export interface ActionContext {
  now: number;
  /** When a restart of (uid, name) may go, given the instance's finish time. */
  backoffUntil(name: string, finishedAt: number): number | undefined;
  /** Containers whose liveness probe has failed since they started (by container id). */
  livenessFailed: ReadonlySet<string>;
}

const shouldRestart = (policy: string, exitCode: number | undefined): boolean =>
  policy === 'Never' ? false : policy === 'OnFailure' ? exitCode !== 0 : true;

function latest(rp: RuntimePod | undefined, name: string, init: boolean): ContainerStatus | undefined {
  return rp?.containers.find((c) => c.name === name && c.init === init);
}

/** True when every app container has finished and none will restart: the pod is done. */
export function podFinished(pod: Obj, rp: RuntimePod | undefined): boolean {
  const policy = pod.spec?.restartPolicy ?? 'Always';
  if (policy === 'Always') return false;
  const cs: Obj[] = pod.spec?.containers ?? [];
  return cs.length > 0 && cs.every((c) => {
    const l = latest(rp, c.name, false);
    return l?.state === 'exited' && !shouldRestart(policy, l.exitCode);
  });
}

export function computePodActions(pod: Obj, rp: RuntimePod | undefined, ctx: ActionContext): PodActions {
  const policy: string = pod.spec?.restartPolicy ?? 'Always';
  const inits: Obj[] = pod.spec?.initContainers ?? [];
  const apps: Obj[] = pod.spec?.containers ?? [];
  const sandbox = rp?.sandboxes[0];
  const a: PodActions = { killPod: false, createSandbox: false, sandboxAttempt: 0, start: [], kill: [], backoff: new Map(), prune: pruneList(rp) };

  const ready = sandbox?.state === 'ready' && rp!.sandboxes.filter((s) => s.state === 'ready').length === 1;
  if (!ready) {
    const attempt = sandbox ? sandbox.attempt + 1 : 0;
    // A finished pod, or a Never pod whose containers already ran, gets no new sandbox.
    // Init containers count as having run too (kubelet checks every container status).
    const ran = (rp?.containers.length ?? 0) > 0;
    if (podFinished(pod, rp) || (policy === 'Never' && ran)) {
      a.killPod = !!rp && (rp.sandboxes.some((s) => s.state === 'ready') || rp.containers.some((c) => c.state === 'running'));
      return a;
    }
    a.killPod = !!rp && (rp.sandboxes.length > 0 || rp.containers.some((c) => c.state === 'running'));
    a.createSandbox = true;
    a.sandboxAttempt = attempt;
    if (inits.length) a.start.push({ container: inits[0], init: true, attempt: nextAttempt(rp, inits[0].name, true) });
    else for (const c of apps) if (!finishedForGood(rp, c.name, policy)) a.start.push({ container: c, init: false, attempt: nextAttempt(rp, c.name, false) });
    return a;
  }

  if (podFinished(pod, rp)) {
    a.killPod = true;
    return a;
  }

  // Init containers, in order, in the current sandbox.
  for (const c of inits) {
    const l = latest(rp, c.name, true);
    const inSandbox = l && l.sandboxId === sandbox!.id;
    if (inSandbox && l.state === 'exited' && l.exitCode === 0) continue;
    if (inSandbox && l.state === 'running') return a;
    if (inSandbox && l.state === 'created') {
      // Created but never started (a start failed): as for app containers, replace it.
      a.kill.push({ id: l.id, name: c.name, reason: 'never started' });
      a.start.push({ container: c, init: true, attempt: l.attempt + 1 });
      return a;
    }
    if (inSandbox && l.state === 'exited') {
      if (policy === 'Never') {
        a.podFailed = `init container ${c.name} exited with code ${l.exitCode}`;
        a.killPod = true;
        return a;
      }
      const until = ctx.backoffUntil(c.name, l.finishedAt?.getTime() ?? ctx.now);
      if (until !== undefined) {
        a.backoff.set(c.name, until);
        return a;
      }
    }
    a.start.push({ container: c, init: true, attempt: nextAttempt(rp, c.name, true) });
    return a;
  }

  for (const c of apps) {
    const l = latest(rp, c.name, false);
    if (!l || l.sandboxId !== sandbox!.id) {
      // An instance in an earlier sandbox that finished for good (OnFailure, exit 0) is not run again.
      if (finishedForGood(rp, c.name, policy)) continue;
      a.start.push({ container: c, init: false, attempt: nextAttempt(rp, c.name, false) });
      continue;
    }
    if (l.state === 'running') {
      const changed = l.specHash !== containerHash(c);
      const unhealthy = ctx.livenessFailed.has(l.id);
      if (changed || unhealthy) {
        a.kill.push({ id: l.id, name: c.name, reason: changed ? 'spec changed' : 'liveness probe failed' });
        // Restarted by the next sync, once the relist shows it exited (with backoff from then).
      }
      continue;
    }
    if (l.state === 'created') {
      // Created but never started (a start failed): start it again as a new instance.
      a.kill.push({ id: l.id, name: c.name, reason: 'never started' });
      a.start.push({ container: c, init: false, attempt: l.attempt + 1 });
      continue;
    }
    if (!shouldRestart(policy, l.exitCode)) continue;
    const until = ctx.backoffUntil(c.name, l.finishedAt?.getTime() ?? ctx.now);
    if (until !== undefined) {
      a.backoff.set(c.name, until);
      continue;
    }
    a.start.push({ container: c, init: false, attempt: l.attempt + 1 });
  }
  return a;
}

/** The app container's newest instance exited and the policy says it stays exited. */
function finishedForGood(rp: RuntimePod | undefined, name: string, policy: string): boolean {
  const l = latest(rp, name, false);
  return l?.state === 'exited' && !shouldRestart(policy, l.exitCode);
}

function nextAttempt(rp: RuntimePod | undefined, name: string, init: boolean): number {
  const l = latest(rp, name, init);
  return l ? l.attempt + 1 : 0;
}

function pruneList(rp: RuntimePod | undefined): string[] {
  if (!rp) return [];
  const seen = new Map<string, number>();
  const out: string[] = [];
  for (const c of rp.containers) {
    const k = `${c.init ? 'init:' : ''}${c.name}`;
    const n = (seen.get(k) ?? 0) + 1;
    seen.set(k, n);
    if (n > 2 && c.state === 'exited') out.push(c.id);
  }
  // Sandboxes beyond the newest are dead leftovers once their containers are gone.
  return out;
}
