/**
 * Sends pod statuses to the API server: one merge patch of `status` per
 * change (fields that disappeared are set to null), never two for one pod at
 * once, the latest status winning when several arrive during a write. A
 * failed write is retried on the next `set` or by `retry()` (called from the
 * kubelet's housekeeping). Static pods report on their mirror pod.
 */
import type { Api } from '../../controlplane/controllers/client.js';
import { isNotFound } from '../../controlplane/controllers/client.js';
import type { Logger } from '../../common/log.js';
import type { Obj } from './actions.js';

interface Entry {
  namespace: string;
  name: string;
  /** The status the API server has (as far as we know). */
  sent?: string;
  sentObj?: Obj;
  want?: Obj;
  writing: boolean;
  precondition: boolean;
}

export class StatusManager {
  private entries = new Map<string, Entry>();

  constructor(
    private readonly api: Api,
    private readonly log: Logger,
  ) {}

  /** The last status set for a pod (what the kubelet believes it reported). */
  get(uid: string): Obj | undefined {
    const e = this.entries.get(uid);
    return e?.want ?? e?.sentObj;
  }

  /** `apiStatus`: the status the API has now; `precondition`: false for static pods, whose mirror has another uid. */
  set(uid: string, namespace: string, name: string, status: Obj, apiStatus?: Obj, precondition = true): void {
    let e = this.entries.get(uid);
    if (!e) {
      e = { namespace, name, writing: false, precondition };
      if (apiStatus) {
        e.sent = JSON.stringify(apiStatus);
        e.sentObj = apiStatus;
      }
      this.entries.set(uid, e);
    }
    e.namespace = namespace;
    e.name = name;
    if (JSON.stringify(status) === e.sent && !e.want) return;
    e.want = status;
    void this.flush(uid, e);
  }

  /** Retries writes that failed. */
  retry(): void {
    for (const [uid, e] of this.entries) if (e.want && !e.writing) void this.flush(uid, e);
  }

  forget(uid: string): void {
    this.entries.delete(uid);
  }

  private async flush(uid: string, e: Entry): Promise<void> {
    if (e.writing) return;
    e.writing = true;
    try {
      while (e.want) {
        const want = e.want;
        const text = JSON.stringify(want);
        if (text === e.sent) {
          e.want = undefined;
          break;
        }
        const patch: Obj = { ...want };
        for (const k of Object.keys(e.sentObj ?? {})) if (!(k in want)) patch[k] = null;
        try {
          await this.api.patch(`/api/v1/namespaces/${e.namespace}/pods/${e.name}/status`, e.precondition ? { metadata: { uid }, status: patch } : { status: patch }, 'merge');
          e.sent = text;
          e.sentObj = want;
          if (e.want === want) e.want = undefined;
        } catch (err) {
          if (isNotFound(err)) {
            e.want = undefined;
            break;
          }
          this.log.debug({ pod: `${e.namespace}/${e.name}`, err: String(err) }, 'status update failed; will retry');
          break;
        }
      }
    } finally {
      e.writing = false;
    }
  }
}
