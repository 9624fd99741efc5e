/**
 * The kubelet's view of probes by container *instance* (what actions.ts and
 * status.ts key on) over the ProbeManager, which keys by (pod uid, container
 * name). A new container id for a name restarts that name's probe workers.
 */
import type { Obj } from './actions.js';
import type { ContainerStatus, Runtime } from '../runtime/types.js';
import { ProbeManager } from './probes.js';

export class ProbeTracker {
  private readonly pm: ProbeManager;
  /** `${uid}/${name}` -> container id the workers probe. */
  private tracked = new Map<string, string>();
  private failed = new Map<string, Set<string>>();

  constructor(runtime: Runtime, wake: (uid: string) => void, onEvent: (uid: string, container: string, reason: string, message: string) => void) {
    this.pm = new ProbeManager({
      runtime,
      onLivenessFailure: (uid, name) => {
        const id = this.tracked.get(`${uid}/${name}`);
        if (id) {
          let s = this.failed.get(uid);
          if (!s) this.failed.set(uid, (s = new Set()));
          s.add(id);
        }
        wake(uid);
      },
      onChange: wake,
      onEvent: (uid, container, e) => onEvent(uid, container, e.reason, e.message),
    });
  }

  /** Starts probing a running container unless its instance is already probed. */
  ensure(pod: Obj, c: ContainerStatus, podIP: string | undefined): void {
    const key = `${pod.metadata.uid}/${c.name}`;
    if (this.tracked.get(key) === c.id) return;
    this.tracked.set(key, c.id);
    this.pm.containerStarted(pod, c.name, { containerId: c.id, startedAt: c.startedAt, podIP });
  }

  livenessFailed(uid: string): ReadonlySet<string> {
    return this.failed.get(uid) ?? new Set();
  }

  /** Readiness and startup results by container id. */
  results(uid: string): { ready: Map<string, boolean>; started: Map<string, boolean> } {
    const ready = new Map<string, boolean>();
    const started = new Map<string, boolean>();
    for (const [key, id] of this.tracked) {
      const i = key.lastIndexOf('/');
      if (key.slice(0, i) !== uid) continue;
      const s = this.pm.status(uid, key.slice(i + 1));
      ready.set(id, s.ready);
      started.set(id, s.started);
    }
    return { ready, started };
  }

  forgetContainer(uid: string, id: string): void {
    for (const [key, cur] of this.tracked) {
      if (cur !== id) continue;
      const i = key.lastIndexOf('/');
      this.pm.containerStopped(uid, key.slice(i + 1));
      this.tracked.delete(key);
    }
    this.failed.get(uid)?.delete(id);
  }

  forgetPod(uid: string): void {
    this.pm.removePod(uid);
    for (const key of this.tracked.keys()) if (key.startsWith(`${uid}/`)) this.tracked.delete(key);
    this.failed.delete(uid);
  }

  stop(): void {
    this.pm.stop();
  }
}
