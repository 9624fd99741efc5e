/**
 * The Runtime over a Docker engine (dockerode on /var/run/docker.sock, see ./dockerode.ts), laid out
 * as dockershim did: a sandbox container per pod (`k8s_POD_<pod>_<ns>_<uid>_<n>`,
 * network `none` so CNI gives it its interface, IPC shareable) and app containers
 * (`k8s_<container>_<pod>_<ns>_<uid>_<n>`) joining its network, IPC and UTS
 * namespaces. Docker's restart policy is "no": restarts are the kubelet's.
 *
 * Relists are cheap: `docker ps` gives ids and states; a container is inspected
 * again only when its state string changed (exited containers never change).
 */
import type Dockerode from 'dockerode';
import { connectDocker } from './dockerode.js';
import type { Writable } from 'node:stream';
import { dockerExec, dockerExecSync, dockerLogs } from './docker-streams.js';
import {
  LABEL_ATTEMPT,
  LABEL_CONTAINER_NAME,
  LABEL_CONTAINER_TYPE,
  LABEL_KIND,
  LABEL_POD_NAME,
  LABEL_POD_NAMESPACE,
  LABEL_POD_UID,
  LABEL_SPEC_HASH,
  LABEL_TERMINATION_MESSAGE_PATH,
  type ContainerSpec,
  type ContainerStatus,
  type ExecOptions,
  type ExecSession,
  type LogOptions,
  type PodRef,
  type Runtime,
  type SandboxSpec,
  type SandboxStatus,
} from './types.js';

export const LABEL_SANDBOX_ID = 'skiff.io/sandbox-id';
export const LABEL_HOST_NETWORK = 'skiff.io/host-network';

export interface DockerRuntimeOptions {
  socketPath?: string;
  sandboxImage: string;
  /**
   * Labels everything this runtime creates with `skiff.io/node=<name>` and lists only
   * those, so two agents sharing one engine (tests, benchmarks) never adopt or remove
   * each other's pods. Undefined lists every Skiff container (`skiff down`).
   */
  nodeName?: string;
}

export const LABEL_NODE = 'skiff.io/node';

/** Docker names allow [a-zA-Z0-9_.-]; pod and container names are DNS labels already. */
const part = (s: string): string => s.replace(/[^a-zA-Z0-9_.-]/g, '-');

const podLabels = (p: PodRef): Record<string, string> => ({
  [LABEL_POD_NAME]: p.name,
  [LABEL_POD_NAMESPACE]: p.namespace,
  [LABEL_POD_UID]: p.uid,
});

const podFrom = (l: Record<string, string>): PodRef => ({ name: l[LABEL_POD_NAME] ?? '', namespace: l[LABEL_POD_NAMESPACE] ?? '', uid: l[LABEL_POD_UID] ?? '' });

const date = (s: string | undefined): Date | undefined => (!s || s.startsWith('0001-') ? undefined : new Date(s));

function isNotFound(e: unknown): boolean {
  return (e as { statusCode?: number }).statusCode === 404;
}

/** docker's 304 "already stopped/started" is success for our idempotent verbs. */
function isNotModified(e: unknown): boolean {
  return (e as { statusCode?: number }).statusCode === 304;
}

export class DockerRuntime implements Runtime {
  readonly name = 'docker';
  readonly docker: Dockerode;
  private readonly sandboxImage: string;
  private readonly nodeLabel: Record<string, string>;
  /** id -> [docker ps State string, converted status] */
  private inspected = new Map<string, [string, ContainerStatus]>();
  private sandboxes = new Map<string, [string, SandboxStatus]>();

  constructor(opts: DockerRuntimeOptions) {
    this.docker = connectDocker(opts.socketPath ? { socketPath: opts.socketPath } : {});
    this.sandboxImage = opts.sandboxImage;
    this.nodeLabel = opts.nodeName ? { [LABEL_NODE]: opts.nodeName } : {};
  }

  private filter(kind: string): { label: string[] } {
    return { label: [`${LABEL_KIND}=${kind}`, ...Object.entries(this.nodeLabel).map(([k, v]) => `${k}=${v}`)] };
  }

  async version(): Promise<{ runtime: string; version: string; apiVersion: string }> {
    const v = await this.docker.version();
    return { runtime: 'docker', version: v.Version, apiVersion: v.ApiVersion };
  }

  async imagePresent(image: string): Promise<boolean> {
    return (await this.imageId(image)) !== undefined;
  }

  async imageId(image: string): Promise<string | undefined> {
    try {
      return (await this.docker.getImage(image).inspect()).Id;
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  async pullImage(image: string, signal?: AbortSignal): Promise<void> {
    const stream = await this.docker.pull(image, { abortSignal: signal });
    await new Promise<void>((resolve, reject) => {
      this.docker.modem.followProgress(stream, (err: Error | null, out: { error?: string }[]) => {
        const failed = err ?? out.find((o) => o.error);
        if (failed) reject(new Error(err ? err.message : String(out.find((o) => o.error)?.error)));
        else resolve();
      });
    });
  }

  async runSandbox(spec: SandboxSpec): Promise<SandboxStatus> {
    const name = `k8s_POD_${part(spec.pod.name)}_${part(spec.pod.namespace)}_${part(spec.pod.uid)}_${spec.attempt}`;
    const opts: Dockerode.ContainerCreateOptions = {
      name,
      Image: this.sandboxImage,
      Hostname: spec.hostNetwork ? undefined : spec.hostname.slice(0, 63),
      Labels: { ...spec.labels, ...this.nodeLabel, ...podLabels(spec.pod), [LABEL_KIND]: 'sandbox', [LABEL_ATTEMPT]: String(spec.attempt), [LABEL_HOST_NETWORK]: String(spec.hostNetwork) },
      HostConfig: {
        NetworkMode: spec.hostNetwork ? 'host' : 'none',
        IpcMode: 'shareable',
        CgroupParent: spec.cgroupParent,
        RestartPolicy: { Name: 'no' },
        // The sandbox only holds namespaces: keep it tiny.
        Memory: 16 * 1024 * 1024,
        CpuShares: 2,
        LogConfig: { Type: 'none', Config: {} },
      },
    };
    const c = await this.createReplacing(opts);
    try {
      await c.start();
    } catch (e) {
      await c.remove({ force: true }).catch(() => undefined);
      throw e;
    }
    const st = await this.inspectSandbox(c.id);
    if (!st) throw new Error(`sandbox ${name} vanished after start`);
    return st;
  }

  /** Creates a container; a leftover of the same name (a crash between create and record) is removed first. */
  private async createReplacing(opts: Dockerode.ContainerCreateOptions): Promise<Dockerode.Container> {
    try {
      return await this.docker.createContainer(opts);
    } catch (e) {
      if ((e as { statusCode?: number }).statusCode !== 409 || !opts.name) throw e;
      await this.docker.getContainer(opts.name).remove({ force: true }).catch(() => undefined);
      return this.docker.createContainer(opts);
    }
  }

  async stopSandbox(id: string): Promise<void> {
    await this.stopContainer(id, 2);
  }

  async removeSandbox(id: string): Promise<void> {
    await this.removeContainer(id);
    this.sandboxes.delete(id);
  }

  /** Docker's inspect, or undefined when the container is gone. */
  private async inspectRaw(id: string): Promise<Dockerode.ContainerInspectInfo | undefined> {
    try {
      return await this.docker.getContainer(id).inspect();
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  private async inspectSandbox(id: string): Promise<SandboxStatus | undefined> {
    const i = await this.inspectRaw(id);
    if (!i) return undefined;
    const labels = i.Config.Labels ?? {};
    const running = i.State.Running && i.State.Pid > 0;
    return {
      id: i.Id,
      pod: podFrom(labels),
      attempt: Number(labels[LABEL_ATTEMPT] ?? 0),
      state: running ? 'ready' : 'notready',
      createdAt: new Date(i.Created),
      pid: running ? i.State.Pid : 0,
      netnsPath: running ? `/proc/${i.State.Pid}/ns/net` : undefined,
      hostNetwork: labels[LABEL_HOST_NETWORK] === 'true',
      labels,
    };
  }

  async listSandboxes(): Promise<SandboxStatus[]> {
    const list = await this.docker.listContainers({ all: true, filters: this.filter('sandbox') });
    const out: SandboxStatus[] = [];
    const seen = new Set<string>();
    for (const c of list) {
      seen.add(c.Id);
      const cached = this.sandboxes.get(c.Id);
      if (cached && cached[0] === c.State) {
        out.push(cached[1]);
        continue;
      }
      const st = await this.inspectSandbox(c.Id);
      if (!st) continue;
      this.sandboxes.set(c.Id, [c.State, st]);
      out.push(st);
    }
    for (const id of this.sandboxes.keys()) if (!seen.has(id)) this.sandboxes.delete(id);
    return out;
  }

  async createContainer(spec: ContainerSpec): Promise<string> {
    const name = `k8s_${part(spec.name)}_${part(spec.pod.name)}_${part(spec.pod.namespace)}_${part(spec.pod.uid)}_${spec.attempt}`;
    const r = spec.resources;
    const opts: Dockerode.ContainerCreateOptions = {
      name,
      Image: spec.image,
      Entrypoint: spec.command?.length ? spec.command : undefined,
      // Kubernetes: `command` alone drops the image's CMD; Docker does the same when Entrypoint is set.
      Cmd: spec.args?.length ? spec.args : undefined,
      Env: spec.env.map((e) => `${e.name}=${e.value}`),
      WorkingDir: spec.workingDir || undefined,
      Tty: !!spec.tty,
      OpenStdin: !!spec.stdin,
      StdinOnce: !!spec.stdinOnce,
      AttachStdin: false,
      User: spec.user,
      Labels: {
        ...spec.labels,
        ...this.nodeLabel,
        ...podLabels(spec.pod),
        [LABEL_KIND]: 'container',
        [LABEL_CONTAINER_NAME]: spec.name,
        [LABEL_ATTEMPT]: String(spec.attempt),
        [LABEL_SPEC_HASH]: spec.specHash,
        [LABEL_SANDBOX_ID]: spec.sandboxId,
        ...(spec.init ? { [LABEL_CONTAINER_TYPE]: 'init' } : {}),
        ...(spec.terminationMessagePath ? { [LABEL_TERMINATION_MESSAGE_PATH]: spec.terminationMessagePath } : {}),
      },
      HostConfig: {
        NetworkMode: `container:${spec.sandboxId}`,
        IpcMode: `container:${spec.sandboxId}`,
        CgroupParent: spec.cgroupParent,
        RestartPolicy: { Name: 'no' },
        Binds: spec.mounts.map((m) => `${m.hostPath}:${m.containerPath}${m.readOnly ? ':ro' : ''}`),
        CpuShares: r.cpuShares,
        CpuQuota: r.cpuQuota,
        CpuPeriod: r.cpuQuota ? (r.cpuPeriod ?? 100_000) : undefined,
        Memory: r.memoryLimit,
        // Equal to Memory: no swap beyond the limit, as the kubelet configures it.
        MemorySwap: r.memoryLimit,
        Privileged: !!spec.privileged,
        CapAdd: spec.capAdd,
        CapDrop: spec.capDrop,
        ReadonlyRootfs: !!spec.readOnlyRootfs,
        LogConfig: { Type: 'json-file', Config: { 'max-size': '10m', 'max-file': '2' } },
      },
    };
    const c = await this.createReplacing(opts);
    return c.id;
  }

  async startContainer(id: string): Promise<void> {
    try {
      await this.docker.getContainer(id).start();
    } catch (e) {
      if (!isNotModified(e)) throw e;
    }
  }

  async stopContainer(id: string, graceSeconds: number): Promise<void> {
    try {
      await this.docker.getContainer(id).stop({ t: Math.max(0, Math.floor(graceSeconds)) });
    } catch (e) {
      if (!isNotFound(e) && !isNotModified(e)) throw e;
    }
  }

  async removeContainer(id: string): Promise<void> {
    try {
      await this.docker.getContainer(id).remove({ force: true, v: true });
    } catch (e) {
      if (!isNotFound(e) && !/removal of container .* is already in progress/.test(String(e))) throw e;
    }
    this.inspected.delete(id);
  }

  async inspectContainer(id: string): Promise<ContainerStatus | undefined> {
    const i = await this.inspectRaw(id);
    if (!i) return undefined;
    const labels = i.Config.Labels ?? {};
    const s = i.State;
    const state = s.Running ? 'running' : s.Status === 'created' ? 'created' : s.Status === 'exited' || s.Status === 'dead' ? 'exited' : 'unknown';
    return {
      id: i.Id,
      pod: podFrom(labels),
      sandboxId: labels[LABEL_SANDBOX_ID],
      name: labels[LABEL_CONTAINER_NAME] ?? '',
      attempt: Number(labels[LABEL_ATTEMPT] ?? 0),
      init: labels[LABEL_CONTAINER_TYPE] === 'init',
      image: i.Config.Image,
      imageId: i.Image,
      state,
      createdAt: new Date(i.Created),
      startedAt: date(s.StartedAt),
      finishedAt: state === 'exited' ? date(s.FinishedAt) : undefined,
      exitCode: state === 'exited' ? s.ExitCode : undefined,
      oomKilled: s.OOMKilled,
      error: s.Error || undefined,
      pid: s.Pid,
      specHash: labels[LABEL_SPEC_HASH] ?? '',
      labels,
    };
  }

  async listContainers(): Promise<ContainerStatus[]> {
    const list = await this.docker.listContainers({ all: true, filters: this.filter('container') });
    const seen = new Set<string>();
    const out = await Promise.all(
      list.map(async (c) => {
        seen.add(c.Id);
        const cached = this.inspected.get(c.Id);
        if (cached && cached[0] === c.State) return cached[1];
        const st = await this.inspectContainer(c.Id);
        if (st) this.inspected.set(c.Id, [c.State, st]);
        return st;
      }),
    );
    for (const id of this.inspected.keys()) if (!seen.has(id)) this.inspected.delete(id);
    return out.filter((c): c is ContainerStatus => c !== undefined);
  }

  logs(id: string, opts: LogOptions, out: Writable, signal?: AbortSignal): Promise<void> {
    return dockerLogs(this.docker, id, opts, out, signal);
  }

  exec(id: string, cmd: string[], opts: ExecOptions): Promise<ExecSession> {
    return dockerExec(this.docker, id, cmd, opts);
  }

  execSync(id: string, cmd: string[], timeoutMs: number): Promise<{ exitCode: number; output: string; timedOut: boolean }> {
    return dockerExecSync(this.docker, id, cmd, timeoutMs);
  }

  /**
   * Calls `onChange` when a Skiff container starts, dies or is OOM-killed, so the
   * kubelet relists at once instead of at its next period. Reconnects until `signal` aborts.
   */
  watchEvents(onChange: () => void, signal: AbortSignal): void {
    const loop = async (): Promise<void> => {
      while (!signal.aborted) {
        try {
          const stream = await this.docker.getEvents({ filters: { type: ['container'], label: [LABEL_KIND, ...Object.entries(this.nodeLabel).map(([k, v]) => `${k}=${v}`)], event: ['start', 'die', 'oom', 'destroy'] } });
          const s = stream as NodeJS.ReadableStream & { destroy?: () => void };
          const stop = (): void => s.destroy?.();
          signal.addEventListener('abort', stop, { once: true });
          await new Promise<void>((resolve) => {
            s.on('data', () => onChange());
            s.on('end', resolve);
            s.on('error', resolve);
            s.on('close', resolve);
          });
          signal.removeEventListener('abort', stop);
        } catch {
          /* the engine is down: the periodic relist reports it */
        }
        if (!signal.aborted) await new Promise((r) => setTimeout(r, 1000));
      }
    };
    void loop();
  }
}
