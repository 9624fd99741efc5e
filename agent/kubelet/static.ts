/**
 * Static pods: manifests (YAML or JSON, one Pod per file) in a directory the
 * agent reads every few seconds, run by the kubelet without the API server,
 * and mirrored there as read-only "mirror pods" so kubectl shows them.
 *
 * As the kubelet does: the pod is named `<name>-<nodeName>`, its uid is a hash
 * of the node and the manifest (an edited file is a new pod), annotations
 * `kubernetes.io/config.source=file` and `kubernetes.io/config.hash=<uid>`; the
 * mirror pod carries `kubernetes.io/config.mirror=<hash>` and is owned by the Node.
 * A mirror deleted by a user is created again; a removed manifest deletes it.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import yaml from 'js-yaml';
import type { Api } from '../../controlplane/controllers/client.js';
import { isAlreadyExists, isNotFound } from '../../controlplane/controllers/client.js';
import type { Logger } from '../../common/log.js';
import type { Obj } from './actions.js';

export const SOURCE_ANNOTATION = 'kubernetes.io/config.source';
export const HASH_ANNOTATION = 'kubernetes.io/config.hash';
export const MIRROR_ANNOTATION = 'kubernetes.io/config.mirror';

/** Builds the static pod from a manifest's text (pure); throws with a one-line reason. */
export function staticPodFrom(text: string, file: string, nodeName: string): Obj {
  const doc = (file.endsWith('.json') ? JSON.parse(text) : yaml.load(text)) as Obj;
  if (!doc || typeof doc !== 'object' || doc.kind !== 'Pod') throw new Error(`${file}: not a Pod manifest`);
  if (!doc.metadata?.name || !Array.isArray(doc.spec?.containers) || doc.spec.containers.length === 0) throw new Error(`${file}: a Pod needs metadata.name and spec.containers`);
  const h = createHash('sha256').update(nodeName).update('\0').update(text).digest('hex');
  const uid = `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
  const name = `${doc.metadata.name}-${nodeName}`;
  const spec = {
    restartPolicy: 'Always',
    terminationGracePeriodSeconds: 30,
    dnsPolicy: 'ClusterFirst',
    enableServiceLinks: true,
    ...doc.spec,
    nodeName,
    containers: doc.spec.containers.map((c: Obj) => ({ terminationMessagePath: '/dev/termination-log', terminationMessagePolicy: 'File', ...c })),
  };
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      ...doc.metadata,
      name,
      namespace: doc.metadata.namespace ?? 'default',
      uid,
      annotations: { ...(doc.metadata.annotations ?? {}), [SOURCE_ANNOTATION]: 'file', [HASH_ANNOTATION]: uid },
    },
    spec,
    status: {},
  };
}

export class StaticPods {
  private pods = new Map<string, Obj>();
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly dir: string,
    private readonly nodeName: string,
    private readonly api: Api,
    private readonly log: Logger,
    private readonly onChange: (uids: string[]) => void,
  ) {}

  /** uid -> pod, as the kubelet's desired-state source. */
  all(): Map<string, Obj> {
    return this.pods;
  }

  async start(periodMs = 5000): Promise<void> {
    await this.scan();
    const tick = (): void => {
      void this.scan().finally(() => {
        this.timer = setTimeout(tick, periodMs);
        this.timer.unref?.();
      });
    };
    this.timer = setTimeout(tick, periodMs);
    this.timer.unref?.();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
  }

  /** Reads the directory; changed uids are reported, mirrors reconciled. */
  async scan(): Promise<void> {
    let files: string[] = [];
    try {
      files = (await readdir(this.dir)).filter((f) => /\.(ya?ml|json)$/.test(f) && !f.startsWith('.')).sort();
    } catch {
      /* no directory: no static pods */
    }
    const next = new Map<string, Obj>();
    for (const f of files) {
      try {
        const pod = staticPodFrom(await readFile(join(this.dir, f), 'utf8'), f, this.nodeName);
        const old = this.pods.get(pod.metadata.uid);
        next.set(pod.metadata.uid, old ?? pod);
      } catch (e) {
        this.log.warn({ file: f, err: (e as Error).message }, 'static pod manifest skipped');
      }
    }
    const changed = [...new Set([...this.pods.keys(), ...next.keys()])].filter((u) => this.pods.has(u) !== next.has(u));
    const gone = [...this.pods.values()].filter((p) => !next.has(p.metadata.uid));
    this.pods = next;
    if (changed.length) this.onChange(changed);
    for (const p of gone) await this.deleteMirror(p, undefined);
    for (const p of next.values()) await this.ensureMirror(p);
  }

  private path(p: Obj): string {
    return `/api/v1/namespaces/${p.metadata.namespace}/pods/${p.metadata.name}`;
  }

  /** The mirror exists and belongs to this version of the manifest. */
  private async ensureMirror(p: Obj): Promise<void> {
    const hash = p.metadata.uid;
    try {
      const m = await this.api.get(this.path(p));
      if (m.metadata.annotations?.[MIRROR_ANNOTATION] === hash && !m.metadata.deletionTimestamp) return;
      await this.deleteMirror(p, m.metadata.uid);
    } catch (e) {
      if (!isNotFound(e)) return this.log.debug({ err: String(e) }, 'mirror pod lookup failed');
    }
    let nodeUid: string | undefined;
    try {
      nodeUid = (await this.api.get(`/api/v1/nodes/${this.nodeName}`)).metadata.uid;
    } catch {
      return; // the node is not registered yet: next scan
    }
    const { uid: _u, ...meta } = p.metadata;
    const mirror = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        ...meta,
        annotations: { ...meta.annotations, [MIRROR_ANNOTATION]: hash },
        ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: this.nodeName, uid: nodeUid, controller: true }],
      },
      spec: p.spec,
    };
    try {
      await this.api.create(`/api/v1/namespaces/${p.metadata.namespace}/pods`, mirror);
    } catch (e) {
      if (!isAlreadyExists(e)) this.log.warn({ pod: p.metadata.name, err: String(e) }, 'mirror pod create failed');
    }
  }

  private async deleteMirror(p: Obj, uid: string | undefined): Promise<void> {
    try {
      await this.api.delete(this.path(p), { gracePeriodSeconds: 0, ...(uid ? { preconditions: { uid } } : {}) });
    } catch (e) {
      if (!isNotFound(e)) this.log.debug({ err: String(e) }, 'mirror pod delete failed');
    }
  }
}
