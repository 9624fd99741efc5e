/**
 * Pod events as the kubelet records them (Pulled, Created, Started, Killing,
 * BackOff, Unhealthy, Failed ...): core/v1 Events with source component
 * "kubelet" and the node as host. Repeats of the same event within a pod are
 * counted on one object (count, lastTimestamp), as client-go's correlator does.
 * Fire and forget: a lost event never stops a sync.
 */
import type { Api } from '../../controlplane/controllers/client.js';
import type { Logger } from '../../common/log.js';
import type { Obj } from './actions.js';

interface Seen {
  name: string;
  count: number;
  first: string;
}

export class EventRecorder {
  private seen = new Map<string, Seen>();
  private seq = 0;

  constructor(
    private readonly api: Api,
    private readonly nodeName: string,
    private readonly log: Logger,
  ) {}

  event(pod: Obj, type: 'Normal' | 'Warning', reason: string, message: string, fieldPath?: string): void {
    const ns = pod.metadata.namespace;
    const key = `${pod.metadata.uid}|${fieldPath ?? ''}|${reason}|${message}`;
    const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
    const prev = this.seen.get(key);
    const involved = { kind: 'Pod', namespace: ns, name: pod.metadata.name, uid: pod.metadata.uid, apiVersion: 'v1', resourceVersion: pod.metadata.resourceVersion, ...(fieldPath ? { fieldPath } : {}) };
    if (prev) {
      prev.count++;
      void this.api
        .patch(`/api/v1/namespaces/${ns}/events/${prev.name}`, { count: prev.count, lastTimestamp: now })
        .catch((e) => this.log.debug({ err: String(e) }, 'event update failed'));
      return;
    }
    if (this.seen.size > 5000) this.seen.clear();
    const name = `${pod.metadata.name}.${Date.now().toString(16)}${(this.seq++).toString(16)}`;
    this.seen.set(key, { name, count: 1, first: now });
    void this.api
      .create(`/api/v1/namespaces/${ns}/events`, {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { name, namespace: ns },
        involvedObject: involved,
        reason,
        message,
        type,
        count: 1,
        firstTimestamp: now,
        lastTimestamp: now,
        source: { component: 'kubelet', host: this.nodeName },
        reportingComponent: 'kubelet',
        reportingInstance: this.nodeName,
      })
      .catch((e) => this.log.debug({ err: String(e) }, 'event create failed'));
  }

  forgetPod(uid: string): void {
    for (const k of this.seen.keys()) if (k.startsWith(`${uid}|`)) this.seen.delete(k);
  }
}
