/**
 * The pod status the kubelet reports, computed purely from the spec, the
 * runtime's view, probe results and the reasons the last sync left (image pull
 * errors, backoff, config errors). Follows kubelet's generateAPIPodStatus and
 * getPhase; transition times move only when a condition's status changes.
 */
import type { ContainerStatus } from '../runtime/types.js';
import { podFinished, type Obj, type RuntimePod } from './actions.js';

export interface Waiting {
  reason: string;
  message?: string;
}

export interface StatusInput {
  pod: Obj;
  rp: RuntimePod | undefined;
  podIP?: string;
  hostIP: string;
  qosClass: string;
  now: Date;
  /** Why a container is not running (ErrImagePull, CrashLoopBackOff, CreateContainerConfigError ...). */
  waiting: ReadonlyMap<string, Waiting>;
  /** Readiness by container id (absent: no result yet). */
  ready: ReadonlyMap<string, boolean>;
  /** Startup probe passed, by container id. */
  started: ReadonlyMap<string, boolean>;
  /** Set when the pod failed for good (init failure under Never, deadline). */
  failed?: { reason: string; message: string };
}

const iso = (d: Date | undefined): string | null => (d ? d.toISOString().replace(/\.\d{3}Z$/, 'Z') : null);

function terminated(c: ContainerStatus): Obj {
  const reason = c.oomKilled ? 'OOMKilled' : c.exitCode === 0 ? 'Completed' : c.error ? 'ContainerCannotRun' : 'Error';
  return {
    terminated: {
      exitCode: c.exitCode ?? 137,
      reason,
      ...(c.error ? { message: c.error } : {}),
      startedAt: iso(c.startedAt),
      finishedAt: iso(c.finishedAt),
      containerID: `docker://${c.id}`,
    },
  };
}

function containerStatus(spec: Obj, init: boolean, in_: StatusInput, sandboxId: string | undefined): Obj {
  const instances = (in_.rp?.containers ?? []).filter((c) => c.name === spec.name && c.init === init);
  const cur = instances[0];
  const prev = instances[1];
  const waiting = in_.waiting.get(spec.name);
  const st: Obj = {
    name: spec.name,
    image: spec.image,
    imageID: cur?.imageId ? `docker-pullable://${cur.imageId}` : '',
    ready: false,
    restartCount: cur ? cur.attempt : 0,
    started: false,
    state: {},
    lastState: {},
  };
  if (cur) st.containerID = `docker://${cur.id}`;
  if (cur?.state === 'running') {
    st.state = { running: { startedAt: iso(cur.startedAt) } };
    st.started = spec.startupProbe ? in_.started.get(cur.id) === true : true;
    st.ready = !init && cur.sandboxId === sandboxId && (spec.readinessProbe ? in_.ready.get(cur.id) === true : st.started);
    if (prev?.state === 'exited') st.lastState = terminated(prev);
  } else if (cur?.state === 'exited') {
    if (waiting) {
      st.state = { waiting };
      st.lastState = terminated(cur);
    } else {
      st.state = terminated(cur);
      // An init container that completed counts as ready (kubelet's prober manager does the same).
      st.ready = init && cur.exitCode === 0;
      if (prev?.state === 'exited') st.lastState = terminated(prev);
    }
  } else {
    // As kubelet: every not-yet-started container of a pod with init containers is PodInitializing
    // (kubectl prints Init:N/M for those), otherwise ContainerCreating.
    const hasInits = (in_.pod.spec?.initContainers ?? []).length > 0;
    st.state = { waiting: waiting ?? { reason: hasInits ? 'PodInitializing' : 'ContainerCreating' } };
    if (cur?.state === 'created' && prev?.state === 'exited') st.lastState = terminated(prev);
  }
  return st;
}

function condition(type: string, ok: boolean, old: Obj[], now: string, reason?: string, message?: string): Obj {
  const status = ok ? 'True' : 'False';
  const was = old.find((c) => c.type === type);
  return {
    type,
    status,
    lastProbeTime: null,
    lastTransitionTime: was && was.status === status ? was.lastTransitionTime : now,
    ...(!ok && reason ? { reason } : {}),
    ...(!ok && message ? { message } : {}),
  };
}

export function getPhase(pod: Obj, statuses: Obj[], initsDone: boolean, initStatuses: Obj[]): string {
  const policy = pod.spec?.restartPolicy ?? 'Always';
  if (!initsDone) {
    const failedInit = initStatuses.some((s) => s.state.terminated && s.state.terminated.exitCode !== 0);
    return failedInit && policy === 'Never' ? 'Failed' : 'Pending';
  }
  let running = 0, waiting = 0, stopped = 0, succeeded = 0;
  for (const s of statuses) {
    if (s.state.running) running++;
    else if (s.state.terminated) {
      stopped++;
      if (s.state.terminated.exitCode === 0) succeeded++;
    } else if (s.lastState.terminated) stopped++;
    else waiting++;
  }
  if (waiting > 0) return 'Pending';
  if (running > 0) return 'Running';
  if (stopped === 0) return 'Pending';
  if (policy === 'Always') return 'Running';
  if (stopped === succeeded) return 'Succeeded';
  if (policy === 'Never') return 'Failed';
  return 'Running';
}

export function generatePodStatus(in_: StatusInput): Obj {
  const { pod, rp } = in_;
  const old: Obj = pod.status ?? {};
  const oldConds: Obj[] = old.conditions ?? [];
  const now = iso(in_.now)!;
  const sandbox = rp?.sandboxes.find((s) => s.state === 'ready');
  const inits: Obj[] = pod.spec?.initContainers ?? [];
  const initStatuses = inits.map((c) => containerStatus(c, true, in_, sandbox?.id));
  const initsDone = inits.every((c) => (rp?.containers ?? []).some((x) => x.init && x.name === c.name && x.state === 'exited' && x.exitCode === 0 && (!sandbox || x.sandboxId === sandbox.id)));
  const statuses: Obj[] = (pod.spec?.containers ?? []).map((c: Obj) => containerStatus(c, false, in_, sandbox?.id));

  let phase = getPhase(pod, statuses, initsDone, initStatuses);
  if (in_.failed) phase = 'Failed';
  // Terminal phases never go back (the kubelet refuses that transition too).
  if (old.phase === 'Succeeded' || old.phase === 'Failed') phase = old.phase;
  const finished = phase === 'Succeeded' || phase === 'Failed' || podFinished(pod, rp);
  const allReady = statuses.length > 0 && statuses.every((s) => s.ready);
  const notReady = statuses.filter((s) => !s.ready).map((s) => s.name);
  const crMsg = notReady.length ? `containers with unready status: [${notReady.join(' ')}]` : undefined;
  // ContainersReady/Ready of a finished pod: PodFailed or PodCompleted, as kubelet reports them.
  const doneReason = phase === 'Failed' ? 'PodFailed' : 'PodCompleted';
  const pendingInits = initStatuses.filter((s) => !(s.state.terminated && s.state.terminated.exitCode === 0)).map((s) => s.name);

  const conds: Obj[] = [
    condition('PodReadyToStartContainers', !!sandbox && !finished, oldConds, now),
    condition('Initialized', initsDone, oldConds, now, 'ContainersNotInitialized', `containers with incomplete status: [${pendingInits.join(' ')}]`),
    condition('Ready', allReady && !finished, oldConds, now, finished ? doneReason : 'ContainersNotReady', finished ? undefined : crMsg),
    condition('ContainersReady', allReady && !finished, oldConds, now, finished ? doneReason : 'ContainersNotReady', finished ? undefined : crMsg),
  ];
  const scheduled = oldConds.find((c) => c.type === 'PodScheduled') ?? { type: 'PodScheduled', status: 'True', lastProbeTime: null, lastTransitionTime: now };
  conds.push(scheduled);

  const status: Obj = {
    phase,
    conditions: conds,
    hostIP: in_.hostIP,
    hostIPs: [{ ip: in_.hostIP }],
    startTime: old.startTime ?? now,
    qosClass: in_.qosClass,
    containerStatuses: statuses,
  };
  if (inits.length) status.initContainerStatuses = initStatuses;
  const ip = in_.podIP ?? old.podIP;
  if (ip) {
    status.podIP = ip;
    status.podIPs = [{ ip }];
  }
  if (in_.failed) {
    status.reason = in_.failed.reason;
    status.message = in_.failed.message;
  }
  return status;
}
