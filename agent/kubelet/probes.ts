/**
 * Container probes with the kubelet's semantics (pkg/kubelet/prober):
 *
 *  - One worker per (pod uid, container, probe type), started by `containerStarted`
 *    and stopped by `containerStopped` / `removePod` (or a new container ID).
 *  - Initial results: readiness Failure (not ready until a success), liveness Success,
 *    startup unknown. Without a startup probe the container counts as started at once.
 *  - The first probe runs `initialDelaySeconds` after the container started, then every
 *    `periodSeconds` (never overlapping; a slow probe delays the next one).
 *  - A result is committed after `successThreshold` consecutive successes or
 *    `failureThreshold` consecutive failures; a probe that could not run at all (an
 *    error, e.g. an unknown named port) is discarded, as the kubelet does.
 *  - Liveness and readiness are skipped until the startup probe has succeeded; a
 *    startup worker stops after its success.
 *  - A committed liveness or startup failure calls `onLivenessFailure(uid, container,
 *    message)` once and holds the worker until the container is replaced.
 *  - `onChange(uid)` is called whenever `status()` of a container changes because of a
 *    probe result or because a started/ready container was stopped or replaced; after
 *    `containerStarted` the caller reads `status()` itself (no probe has run yet).
 *
 * Time goes through a Clock, so the decision logic runs under a FakeClock in tests;
 * `idle()` resolves once no probe is in flight.
 */
import { logger } from '../../common/log.js';
import { realClock, type Clock, type TimerHandle } from '../../common/clock.js';
import type { Runtime } from '../runtime/types.js';
import { expandCommandOnlyStatic } from './env.js';
import type { Obj } from './fieldpath.js';
import { execAction, httpGetAction, resolvePort, tcpAction, type Outcome } from './probe-handlers.js';

export type ProbeType = 'liveness' | 'readiness' | 'startup';
type Result = 'success' | 'failure';

export interface ProbeTiming {
  initialDelayMs: number;
  periodMs: number;
  timeoutMs: number;
  successThreshold: number;
  failureThreshold: number;
}

/** The probe's timing with the API defaults (period 10s, timeout 1s, thresholds 1 and 3). */
export function probeTiming(probe: Obj): ProbeTiming {
  const n = (v: unknown, d: number, min: number): number => (typeof v === 'number' && v >= min ? v : d);
  return {
    initialDelayMs: n(probe.initialDelaySeconds, 0, 0) * 1000,
    periodMs: n(probe.periodSeconds, 10, 1) * 1000,
    timeoutMs: n(probe.timeoutSeconds, 1, 1) * 1000,
    successThreshold: n(probe.successThreshold, 1, 1),
    failureThreshold: n(probe.failureThreshold, 3, 1),
  };
}

export interface RunState {
  last?: Result;
  run: number;
}

/** Counts consecutive equal results; `commit` is set once a threshold is reached. Pure. */
export function judge(state: RunState, result: Result, t: Pick<ProbeTiming, 'successThreshold' | 'failureThreshold'>): { state: RunState; commit?: Result } {
  const next: RunState = state.last === result ? { last: result, run: state.run + 1 } : { last: result, run: 1 };
  const need = result === 'success' ? t.successThreshold : t.failureThreshold;
  return next.run >= need ? { state: next, commit: result } : { state: next };
}

export interface ProbeTarget {
  pod: Obj;
  container: Obj;
  containerId: string;
  podIP?: string;
}

/** Runs one probe; rejects when the probe could not be run (result discarded). */
export type Prober = (type: ProbeType, probe: Obj, target: ProbeTarget, timeoutMs: number) => Promise<Outcome>;

/** The real prober: exec through the runtime, httpGet, tcpSocket; grpc is answered as unsupported. */
export function makeProber(runtime: Runtime): Prober {
  let grpcLogged = false;
  return async (_type, probe, target, timeoutMs) => {
    if (probe.exec) return execAction(runtime, target.containerId, expandCommandOnlyStatic(probe.exec.command ?? [], target.container), timeoutMs);
    const host = (h: string | undefined): string => {
      const v = h || target.podIP;
      if (!v) throw new Error('pod has no IP yet');
      return v;
    };
    if (probe.httpGet) {
      const g = probe.httpGet;
      return httpGetAction({ scheme: g.scheme === 'HTTPS' ? 'HTTPS' : 'HTTP', host: host(g.host), port: resolvePort(g.port, target.container), path: g.path ?? '/', headers: g.httpHeaders }, timeoutMs);
    }
    if (probe.tcpSocket) return tcpAction(host(probe.tcpSocket.host), resolvePort(probe.tcpSocket.port, target.container), timeoutMs);
    if (probe.grpc) {
      if (!grpcLogged) log.warn('gRPC probes are not supported by this node: they fail');
      grpcLogged = true;
      return { result: 'failure', output: 'gRPC probes are not supported by this node' };
    }
    throw new Error('probe has no handler');
  };
}

export interface ProbeEvent {
  type: 'Warning';
  reason: 'Unhealthy' | 'ProbeWarning';
  message: string;
}

export interface ProbeManagerOptions {
  runtime?: Runtime;
  /** Replaces the real prober (tests, or another runtime). One of runtime/prober is required. */
  prober?: Prober;
  clock?: Clock;
  onLivenessFailure(uid: string, container: string, message: string): void;
  onChange(uid: string): void;
  onEvent?(uid: string, container: string, event: ProbeEvent): void;
}

interface Entry {
  uid: string;
  name: string;
  target: ProbeTarget;
  startedAt: number;
  hasStartup: boolean;
  hasReadiness: boolean;
  results: Partial<Record<ProbeType, Result>>;
  workers: Worker[];
}

const log = logger('probes');
const TITLE: Record<ProbeType, string> = { liveness: 'Liveness', readiness: 'Readiness', startup: 'Startup' };

class Worker {
  private timer?: TimerHandle;
  private stopped = false;
  private onHold = false;
  private state: RunState = { run: 0 };
  private readonly timing: ProbeTiming;

  constructor(
    private readonly mgr: ProbeManager,
    private readonly entry: Entry,
    readonly type: ProbeType,
    private readonly probe: Obj,
  ) {
    this.timing = probeTiming(probe);
  }

  start(clock: Clock): void {
    this.schedule(clock, Math.max(0, this.entry.startedAt + this.timing.initialDelayMs - clock.now()));
  }

  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
  }

  private schedule(clock: Clock, ms: number): void {
    if (this.stopped || this.onHold) return;
    this.timer = clock.after(ms, () => this.tick(clock));
  }

  private tick(clock: Clock): void {
    if (this.stopped) return;
    if (this.type !== 'startup' && !this.mgr.status(this.entry.uid, this.entry.name).started) {
      this.schedule(clock, this.timing.periodMs);
      return;
    }
    const began = clock.now();
    const run = this.mgr
      .runProbe(this.type, this.probe, this.entry.target, this.timing.timeoutMs)
      .then(
        (o) => this.apply(o),
        (e: Error) => {
          if (!this.stopped) this.mgr.emit(this.entry, 'Unhealthy', `${TITLE[this.type]} probe errored: ${e.message}`);
        },
      )
      .finally(() => this.schedule(clock, Math.max(0, this.timing.periodMs - (clock.now() - began))));
    this.mgr.track(run);
  }

  private apply(o: Outcome): void {
    if (this.stopped) return;
    if (o.result === 'failure') this.mgr.emit(this.entry, 'Unhealthy', `${TITLE[this.type]} probe failed: ${o.output}`);
    if (o.result === 'warning') this.mgr.emit(this.entry, 'ProbeWarning', `${TITLE[this.type]} probe warning: ${o.output}`);
    const { state, commit } = judge(this.state, o.result === 'failure' ? 'failure' : 'success', this.timing);
    this.state = state;
    if (!commit) return;
    this.mgr.commit(this.entry, this.type, commit);
    if (commit === 'failure' && this.type !== 'readiness') {
      // The container is about to be killed: no more probes until it is replaced.
      this.onHold = true;
      this.state = { run: 0 };
      this.mgr.livenessFailed(this.entry, this.type);
    }
    if (commit === 'success' && this.type === 'startup') this.stop();
  }
}

export class ProbeManager {
  private readonly clock: Clock;
  private readonly prober: Prober;
  private readonly entries = new Map<string, Entry>();
  private readonly inFlight = new Set<Promise<void>>();

  constructor(private readonly opts: ProbeManagerOptions) {
    this.clock = opts.clock ?? realClock;
    if (opts.prober) this.prober = opts.prober;
    else if (opts.runtime) this.prober = makeProber(opts.runtime);
    else throw new Error('ProbeManager needs a runtime or a prober');
  }

  /**
   * Starts the probe workers of a running container. Calling it again with the same
   * container ID is a no-op; a new ID (a restart) replaces the workers and results.
   */
  containerStarted(pod: Obj, containerName: string, info: { containerId: string; startedAt?: number | Date; podIP?: string }): void {
    const uid: string = pod.metadata.uid;
    const key = `${uid}/${containerName}`;
    const old = this.entries.get(key);
    if (old?.target.containerId === info.containerId) {
      if (info.podIP) old.target.podIP = info.podIP;
      return;
    }
    if (old) this.drop(key);
    const all: Obj[] = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])];
    const container = all.find((c) => c.name === containerName);
    if (!container) throw new Error(`container ${containerName} is not in pod ${pod.metadata.namespace}/${pod.metadata.name}`);
    const startedAt = info.startedAt === undefined ? this.clock.now() : typeof info.startedAt === 'number' ? info.startedAt : info.startedAt.getTime();
    const entry: Entry = {
      uid,
      name: containerName,
      target: { pod, container, containerId: info.containerId, podIP: info.podIP },
      startedAt,
      hasStartup: Boolean(container.startupProbe),
      hasReadiness: Boolean(container.readinessProbe),
      results: { liveness: 'success', readiness: 'failure' },
      workers: [],
    };
    this.entries.set(key, entry);
    const probes: [ProbeType, Obj | undefined][] = [
      ['startup', container.startupProbe],
      ['liveness', container.livenessProbe],
      ['readiness', container.readinessProbe],
    ];
    for (const [type, probe] of probes) {
      if (!probe) continue;
      const w = new Worker(this, entry, type, probe);
      entry.workers.push(w);
      w.start(this.clock);
    }
  }

  /** Stops the container's workers and forgets its results (it exited). */
  containerStopped(uid: string, containerName: string): void {
    this.drop(`${uid}/${containerName}`);
  }

  /** Stops every worker of the pod. */
  removePod(uid: string): void {
    for (const key of [...this.entries.keys()]) if (key.startsWith(`${uid}/`)) this.drop(key);
  }

  /** Stops everything (agent shutdown). */
  stop(): void {
    for (const key of [...this.entries.keys()]) this.drop(key, false);
  }

  /** started: startup probe passed (or none); ready: started and readiness passed (or none). Unknown containers: both false. */
  status(uid: string, containerName: string): { started: boolean; ready: boolean } {
    const e = this.entries.get(`${uid}/${containerName}`);
    if (!e) return { started: false, ready: false };
    const started = !e.hasStartup || e.results.startup === 'success';
    return { started, ready: started && (!e.hasReadiness || e.results.readiness === 'success') };
  }

  /** Resolves when no probe is running (tests drive a FakeClock, then await this). */
  async idle(): Promise<void> {
    while (this.inFlight.size) await Promise.all([...this.inFlight]);
  }

  /** @internal */
  runProbe(type: ProbeType, probe: Obj, target: ProbeTarget, timeoutMs: number): Promise<Outcome> {
    return this.prober(type, probe, target, timeoutMs);
  }

  /** @internal */
  track(p: Promise<void>): void {
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
  }

  /** @internal */
  emit(e: Entry, reason: ProbeEvent['reason'], message: string): void {
    log.debug({ pod: e.uid, container: e.name, reason }, message);
    this.opts.onEvent?.(e.uid, e.name, { type: 'Warning', reason, message });
  }

  /** @internal */
  commit(e: Entry, type: ProbeType, result: Result): void {
    if (this.entries.get(`${e.uid}/${e.name}`) !== e) return;
    const before = this.status(e.uid, e.name);
    e.results[type] = result;
    const after = this.status(e.uid, e.name);
    if (before.started !== after.started || before.ready !== after.ready) this.opts.onChange(e.uid);
  }

  /** @internal */
  livenessFailed(e: Entry, type: ProbeType): void {
    const message = `Container ${e.name} failed ${type} probe, will be restarted`;
    log.info({ pod: e.uid, container: e.name }, message);
    this.opts.onLivenessFailure(e.uid, e.name, message);
  }

  private drop(key: string, notify = true): void {
    const e = this.entries.get(key);
    if (!e) return;
    for (const w of e.workers) w.stop();
    const was = this.status(e.uid, e.name);
    this.entries.delete(key);
    // A container that was started or ready no longer is: the status must follow.
    if (notify && (was.started || was.ready)) this.opts.onChange(e.uid);
  }
}
