/**
 * syncPod and killPod: one pass of a pod worker. Reads the desired pod and a
 * fresh relist, computes the actions (actions.ts), performs them, and reports
 * the status (status.ts). Idempotent: running it again with nothing changed
 * does nothing but recompute the status.
 *
 * Order on creation: pod cgroup, volumes, sandbox, CNI ADD (rolled back with the
 * sandbox when it fails), then containers (image per pull policy, env, mounts,
 * create, start, postStart). On deletion: preStop hooks and SIGTERM within the
 * grace period, SIGKILL, CNI DEL (the IP is released), containers and sandbox
 * removed, cgroup and volumes removed, then the API deletion is finished.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Api } from '../../controlplane/controllers/client.js';
import { isNotFound } from '../../controlplane/controllers/client.js';
import type { Logger } from '../../common/log.js';
import { containerResources, ensurePodCgroup, podCgroupParent, qosClass, removePodCgroup } from '../cgroups/index.js';
import { podIPOf, type CniNetwork } from '../network/cni.js';
import type { DockerRuntime } from '../runtime/docker.js';
import type { ContainerStatus, Mount } from '../runtime/types.js';
import { computePodActions, containerHash, type Obj, type RuntimePod, type StartAction } from './actions.js';
import { Backoff } from './backoff.js';
import { resolvConfFor } from './dns.js';
import { expandCommand, resolveEnv } from './env.js';
import type { EventRecorder } from './events.js';
import { runHook } from './hooks.js';
import { ProbeTracker } from './probeadapter.js';
import type { StatusManager } from './statusmanager.js';
import { generatePodStatus, type Waiting } from './status.js';
import { VolumeManager } from './volumes.js';

/** What a pod sync needs: the node's settings (shared with KubeletOptions) and the kubelet's parts. */
export interface NodeSettings {
  nodeName: string;
  nodeIP: string;
  runtime: DockerRuntime;
  cni: CniNetwork;
  dataDir: string;
  log: Logger;
  clusterDNS: string;
  clusterDomain: string;
  /** Node allocatable, for resourceFieldRef of containers without limits. */
  allocatable?: () => { cpu: string; memory: string };
}

export interface PodSyncDeps extends NodeSettings {
  api: Api;
  backoff: Backoff;
  status: StatusManager;
  events: EventRecorder;
  relist(): Promise<Map<string, RuntimePod>>;
  desired(uid: string): Obj | undefined;
  requeue(uid: string, ms: number): void;
  wake(uid: string): void;
}

/** Per-pod memory of the kubelet between syncs. */
interface PodState {
  waiting: Map<string, Waiting>;
  failed?: { reason: string; message: string };
  /** The last known pod object (for teardown once it vanished from the API). */
  last?: Obj;
  killing?: Promise<void>;
}

const DEFAULT_GRACE = 30;

export class PodSyncer {
  private pods = new Map<string, PodState>();
  readonly volumes: VolumeManager;
  readonly probes: ProbeTracker;

  constructor(private readonly d: PodSyncDeps) {
    this.volumes = new VolumeManager(join(d.dataDir, 'pods'));
    this.probes = new ProbeTracker(d.runtime, d.wake, (uid, container, reason, message) => {
      const pod = d.desired(uid);
      if (pod) d.events.event(pod, 'Warning', reason as 'Unhealthy', message, `spec.containers{${container}}`);
    });
  }

  runningPods(): string[] {
    return [...this.pods.keys()];
  }

  stop(): void {
    this.probes.stop();
  }

  private state(uid: string): PodState {
    let s = this.pods.get(uid);
    if (!s) this.pods.set(uid, (s = { waiting: new Map() }));
    return s;
  }

  /** One sync of one pod; 'done' when nothing of it remains to manage. */
  async sync(uid: string): Promise<'done' | 'keep'> {
    const pod = this.d.desired(uid);
    const st = this.state(uid);
    if (pod) st.last = pod;
    const rp = (await this.d.relist()).get(uid);

    if (!pod || pod.metadata.deletionTimestamp) {
      const grace = pod ? (pod.metadata.deletionGracePeriodSeconds ?? pod.spec?.terminationGracePeriodSeconds ?? DEFAULT_GRACE) : 2;
      await this.teardown(uid, st.last, rp, grace, true);
      if (pod) await this.finishDeletion(pod);
      this.forget(uid);
      return 'done';
    }

    const phase = pod.status?.phase;
    if ((phase === 'Succeeded' || phase === 'Failed') && !rp?.containers.some((c) => c.state === 'running') && !rp?.sandboxes.some((s) => s.state === 'ready')) {
      return 'keep';
    }

    await ensurePodCgroup(pod);
    const vols = await this.ensureVolumes(pod, st);
    if (!vols) return this.report(pod, rp, st);

    const actions = computePodActions(pod, rp, {
      now: Date.now(),
      backoffUntil: (name, finishedAt) => this.d.backoff.waitUntil(Backoff.key(uid, name), finishedAt, Date.now()),
      livenessFailed: this.probes.livenessFailed(uid),
    });
    for (const id of actions.prune) await this.d.runtime.removeContainer(id);
    // Sandboxes older than the newest are dead leftovers of a restart: release and remove them.
    for (const s of rp?.sandboxes.slice(1) ?? []) {
      if (s.state === 'ready') continue;
      if (!s.hostNetwork) await this.d.cni.del({ containerId: s.id, netns: '', ifName: 'eth0' });
      await this.d.runtime.removeSandbox(s.id);
    }

    if (actions.podFailed) st.failed = { reason: 'Failed', message: actions.podFailed };
    if (actions.killPod) {
      await this.teardown(uid, pod, rp, pod.spec?.terminationGracePeriodSeconds ?? DEFAULT_GRACE, false);
      if (!actions.createSandbox) return this.report(pod, (await this.d.relist()).get(uid), st);
    }

    let sandboxId = rp?.sandboxes[0]?.state === 'ready' ? rp.sandboxes[0].id : undefined;
    let podIP: string | undefined;
    if (actions.createSandbox) {
      sandboxId = await this.createSandbox(pod, actions.sandboxAttempt, st);
      if (!sandboxId) return this.report(pod, rp, st);
    }
    if (sandboxId && !pod.spec?.hostNetwork) podIP = podIPOf(await this.d.cni.cached(sandboxId));
    if (pod.spec?.hostNetwork) podIP = this.d.nodeIP;

    for (const k of actions.kill) {
      this.d.events.event(pod, 'Normal', 'Killing', `Stopping container ${k.name}: ${k.reason}`, `spec.containers{${k.name}}`);
      await this.stopContainer(pod, k.id, k.name, pod.spec?.terminationGracePeriodSeconds ?? DEFAULT_GRACE);
      this.probes.forgetContainer(uid, k.id);
    }
    for (const [name, until] of actions.backoff) {
      const l = rp?.containers.find((c) => c.name === name);
      st.waiting.set(name, { reason: 'CrashLoopBackOff', message: `back-off ${Math.round((until - (l?.finishedAt?.getTime() ?? Date.now())) / 1000)}s restarting failed container=${name} pod=${pod.metadata.name}_${pod.metadata.namespace}(${uid})` });
      this.d.events.event(pod, 'Warning', 'BackOff', 'Back-off restarting failed container', `spec.containers{${name}}`);
      this.d.requeue(uid, until - Date.now() + 10);
    }
    if (sandboxId) {
      for (const s of actions.start) {
        const ok = await this.startContainer(pod, s, sandboxId, podIP, vols, st);
        if (!ok) break;
      }
    }
    // Containers in a running state need their probes (also after an agent restart).
    const fresh = (await this.d.relist()).get(uid);
    for (const c of fresh?.containers ?? []) if (c.state === 'running' && !c.init) this.probes.ensure(pod, c, podIP);
    return this.report(pod, fresh, st, podIP);
  }

  private report(pod: Obj, rp: RuntimePod | undefined, st: PodState, podIP?: string): 'keep' {
    const probed = this.probes.results(pod.metadata.uid);
    const status = generatePodStatus({
      pod,
      rp,
      podIP,
      hostIP: this.d.nodeIP,
      qosClass: qosClass(pod),
      now: new Date(),
      waiting: st.waiting,
      ready: probed.ready,
      started: probed.started,
      failed: st.failed,
    });
    const isStatic = pod.metadata.annotations?.['kubernetes.io/config.source'] === 'file';
    // A static pod's status lives here (its source has none): the next computation builds on it.
    if (isStatic) pod.status = status;
    this.d.status.set(pod.metadata.uid, pod.metadata.namespace, pod.metadata.name, status, isStatic ? undefined : pod.status, !isStatic);
    return 'keep';
  }

  private async ensureVolumes(pod: Obj, st: PodState): Promise<Map<string, string> | undefined> {
    try {
      const v = await this.volumes.ensureVolumes(pod, this.volumeCtx());
      st.waiting.delete('__volumes');
      return v;
    } catch (e) {
      const msg = (e as Error).message;
      for (const c of pod.spec?.containers ?? []) st.waiting.set(c.name, { reason: 'ContainerCreating', message: msg });
      this.d.events.event(pod, 'Warning', 'FailedMount', msg);
      this.d.requeue(pod.metadata.uid, 2000);
      return undefined;
    }
  }

  private volumeCtx(): Obj {
    return {
      getConfigMap: (ns: string, name: string) => this.getOptional(`/api/v1/namespaces/${ns}/configmaps/${name}`),
      getSecret: (ns: string, name: string) => this.getOptional(`/api/v1/namespaces/${ns}/secrets/${name}`),
      nodeName: this.d.nodeName,
      allocatable: this.d.allocatable?.(),
    };
  }

  private async getOptional(path: string): Promise<Obj | undefined> {
    try {
      return await this.d.api.get(path);
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  private async createSandbox(pod: Obj, attempt: number, st: PodState): Promise<string | undefined> {
    const uid = pod.metadata.uid;
    const hostNetwork = !!pod.spec?.hostNetwork;
    let sandbox;
    try {
      sandbox = await this.d.runtime.runSandbox({
        pod: { uid, name: pod.metadata.name, namespace: pod.metadata.namespace },
        attempt,
        hostname: pod.spec?.hostname ?? pod.metadata.name,
        cgroupParent: podCgroupParent(pod),
        hostNetwork,
      });
    } catch (e) {
      this.d.events.event(pod, 'Warning', 'FailedCreatePodSandBox', `Failed to create pod sandbox: ${(e as Error).message}`);
      this.d.requeue(uid, 2000);
      return undefined;
    }
    if (hostNetwork) return sandbox.id;
    try {
      await this.d.cni.add({
        containerId: sandbox.id,
        netns: sandbox.netnsPath!,
        ifName: 'eth0',
        args: { IgnoreUnknown: '1', K8S_POD_NAMESPACE: pod.metadata.namespace, K8S_POD_NAME: pod.metadata.name, K8S_POD_INFRA_CONTAINER_ID: sandbox.id, K8S_POD_UID: uid },
      });
    } catch (e) {
      const msg = `Failed to create pod sandbox: plugin type="skiff-bridge" failed (add): ${(e as Error).message}`;
      this.d.events.event(pod, 'Warning', 'FailedCreatePodSandBox', msg);
      for (const c of pod.spec?.containers ?? []) st.waiting.set(c.name, { reason: 'ContainerCreating', message: msg });
      await this.d.runtime.removeSandbox(sandbox.id).catch(() => undefined);
      this.d.requeue(uid, 2000);
      return undefined;
    }
    for (const c of pod.spec?.containers ?? []) if (st.waiting.get(c.name)?.reason === 'ContainerCreating') st.waiting.delete(c.name);
    return sandbox.id;
  }

  private async ensureImage(pod: Obj, c: Obj, st: PodState): Promise<boolean> {
    const image: string = c.image;
    const policy: string = c.imagePullPolicy ?? (/:[^/]+$/.test(image) && !image.endsWith(':latest') ? 'IfNotPresent' : 'Always');
    const field = `spec.containers{${c.name}}`;
    const present = await this.d.runtime.imagePresent(image);
    if (policy === 'Never' && !present) {
      st.waiting.set(c.name, { reason: 'ErrImageNeverPull', message: `Container image "${image}" is not present with pull policy of Never` });
      this.d.events.event(pod, 'Warning', 'ErrImageNeverPull', st.waiting.get(c.name)!.message!, field);
      return false;
    }
    if (policy === 'IfNotPresent' && present) {
      this.d.events.event(pod, 'Normal', 'Pulled', `Container image "${image}" already present on machine`, field);
      return true;
    }
    if (policy === 'Never') return true;
    const key = Backoff.key(pod.metadata.uid, `pull:${image}`);
    const until = this.d.backoff.waitUntil(key, Date.now(), Date.now());
    if (until !== undefined) {
      st.waiting.set(c.name, { reason: 'ImagePullBackOff', message: `Back-off pulling image "${image}"` });
      this.d.requeue(pod.metadata.uid, until - Date.now() + 10);
      return false;
    }
    this.d.events.event(pod, 'Normal', 'Pulling', `Pulling image "${image}"`, field);
    const t0 = Date.now();
    try {
      await this.d.runtime.pullImage(image);
    } catch (e) {
      this.d.backoff.next(key, Date.now());
      const msg = `Failed to pull image "${image}": ${(e as Error).message}`;
      st.waiting.set(c.name, { reason: 'ErrImagePull', message: msg });
      this.d.events.event(pod, 'Warning', 'Failed', msg, field);
      this.d.requeue(pod.metadata.uid, 10_000);
      return false;
    }
    this.d.events.event(pod, 'Normal', 'Pulled', `Successfully pulled image "${image}" in ${Date.now() - t0}ms`, field);
    return true;
  }

  private async startContainer(pod: Obj, s: StartAction, sandboxId: string, podIP: string | undefined, vols: Map<string, string>, st: PodState): Promise<boolean> {
    const c = s.container;
    const uid = pod.metadata.uid;
    const field = `spec.${s.init ? 'initContainers' : 'containers'}{${c.name}}`;
    if (!(await this.ensureImage(pod, c, st))) return false;
    let env: { name: string; value: string }[];
    let mounts: Mount[];
    try {
      env = (await resolveEnv(pod, c, { ...this.volumeCtx(), podIP, hostIP: this.d.nodeIP })).env;
      mounts = await this.mountsFor(pod, c, vols, podIP, s.attempt, env);
    } catch (e) {
      const msg = (e as Error).message;
      st.waiting.set(c.name, { reason: 'CreateContainerConfigError', message: msg });
      this.d.events.event(pod, 'Warning', 'Failed', `Error: ${msg}`, field);
      this.d.requeue(uid, 5000);
      return false;
    }
    const sc = { ...(pod.spec?.securityContext ?? {}), ...(c.securityContext ?? {}) };
    let id: string;
    try {
      id = await this.d.runtime.createContainer({
        pod: { uid, name: pod.metadata.name, namespace: pod.metadata.namespace },
        sandboxId,
        name: c.name,
        attempt: s.attempt,
        image: c.image,
        command: c.command ? expandCommand(c.command, env) : undefined,
        args: c.args ? expandCommand(c.args, env) : undefined,
        env,
        workingDir: c.workingDir,
        mounts,
        resources: containerResources(c),
        cgroupParent: podCgroupParent(pod),
        tty: !!c.tty,
        stdin: !!c.stdin,
        stdinOnce: !!c.stdinOnce,
        user: sc.runAsUser !== undefined ? `${sc.runAsUser}${sc.runAsGroup !== undefined ? `:${sc.runAsGroup}` : ''}` : undefined,
        privileged: !!sc.privileged,
        capAdd: sc.capabilities?.add,
        capDrop: sc.capabilities?.drop,
        readOnlyRootfs: !!sc.readOnlyRootFilesystem,
        init: s.init,
        specHash: containerHash(c),
        terminationMessagePath: c.terminationMessagePath ?? '/dev/termination-log',
      });
    } catch (e) {
      const msg = (e as Error).message;
      st.waiting.set(c.name, { reason: 'CreateContainerError', message: msg });
      this.d.events.event(pod, 'Warning', 'Failed', `Error: ${msg}`, field);
      this.d.requeue(uid, 5000);
      return false;
    }
    this.d.events.event(pod, 'Normal', 'Created', `Created container ${c.name}`, field);
    if (s.attempt > 0) this.d.backoff.next(Backoff.key(uid, c.name), Date.now());
    try {
      await this.d.runtime.startContainer(id);
    } catch (e) {
      const msg = (e as Error).message;
      st.waiting.set(c.name, { reason: 'RunContainerError', message: msg });
      this.d.events.event(pod, 'Warning', 'Failed', `Error: ${msg}`, field);
      this.d.backoff.next(Backoff.key(uid, c.name), Date.now());
      return false;
    }
    st.waiting.delete(c.name);
    this.d.events.event(pod, 'Normal', 'Started', `Started container ${c.name}`, field);
    if (c.lifecycle?.postStart) {
      const r = await runHook(c.lifecycle.postStart, { runtime: this.d.runtime, containerId: id, podIP, timeoutMs: 30_000, pod, container: c });
      if (!r.ok) {
        this.d.events.event(pod, 'Warning', 'FailedPostStartHook', r.message, field);
        await this.d.runtime.stopContainer(id, 0);
      }
    }
    return true;
  }

  /** volumeMounts plus the files every container gets: /etc/hosts, /etc/resolv.conf, the termination log. */
  private async mountsFor(pod: Obj, c: Obj, vols: Map<string, string>, podIP: string | undefined, attempt: number, env: { name: string; value: string }[]): Promise<Mount[]> {
    const mounts = await this.volumes.mountsFor(pod, c, vols, env);
    const dir = join(this.d.dataDir, 'pods', pod.metadata.uid, 'etc');
    await mkdir(dir, { recursive: true });
    const has = (p: string): boolean => mounts.some((m: Mount) => m.containerPath === p);
    if (!pod.spec?.hostNetwork && !has('/etc/hosts')) {
      mounts.push({ hostPath: await this.volumes.writeHostsFile(pod, podIP, pod.spec?.hostAliases ?? [], { clusterDomain: this.d.clusterDomain }), containerPath: '/etc/hosts' });
    }
    if (!has('/etc/resolv.conf')) {
      const r = await resolvConfFor(pod, { clusterDNS: this.d.clusterDNS, clusterDomain: this.d.clusterDomain, hostResolvConf: '/etc/resolv.conf' });
      const text = [...r.searches.length ? [`search ${r.searches.join(' ')}`] : [], ...r.servers.map((s: string) => `nameserver ${s}`), ...r.options.length ? [`options ${r.options.join(' ')}`] : []].join('\n') + '\n';
      await writeFile(join(dir, 'resolv.conf'), text);
      mounts.push({ hostPath: join(dir, 'resolv.conf'), containerPath: '/etc/resolv.conf' });
    }
    const tpath = c.terminationMessagePath ?? '/dev/termination-log';
    if (!has(tpath)) {
      const tdir = join(this.d.dataDir, 'pods', pod.metadata.uid, 'containers', c.name, String(attempt));
      await mkdir(tdir, { recursive: true });
      await writeFile(join(tdir, 'termination-log'), '');
      mounts.push({ hostPath: join(tdir, 'termination-log'), containerPath: tpath });
    }
    return mounts;
  }

  private async stopContainer(pod: Obj | undefined, id: string, name: string, grace: number): Promise<void> {
    const spec = [...(pod?.spec?.containers ?? [])].find((c: Obj) => c.name === name);
    const t0 = Date.now();
    if (spec?.lifecycle?.preStop && pod) {
      const r = await runHook(spec.lifecycle.preStop, { runtime: this.d.runtime, containerId: id, podIP: pod.status?.podIP, timeoutMs: grace * 1000, pod, container: spec });
      if (!r.ok) this.d.events.event(pod, 'Warning', 'FailedPreStopHook', r.message, `spec.containers{${name}}`);
    }
    const left = Math.max(0, grace - Math.floor((Date.now() - t0) / 1000));
    await this.d.runtime.stopContainer(id, left);
  }

  /**
   * Stops everything of a pod (containers in parallel within the grace period,
   * then the sandbox), releases its IP, and with `remove` deletes containers,
   * sandboxes, cgroup and volumes.
   */
  private async teardown(uid: string, pod: Obj | undefined, rp: RuntimePod | undefined, grace: number, remove: boolean): Promise<void> {
    const running = (rp?.containers ?? []).filter((c: ContainerStatus) => c.state === 'running' || c.state === 'created');
    if (pod && running.length) for (const c of running) this.d.events.event(pod, 'Normal', 'Killing', `Stopping container ${c.name}`, `spec.containers{${c.name}}`);
    await Promise.all(running.map((c) => this.stopContainer(pod, c.id, c.name, grace)));
    for (const c of running) this.probes.forgetContainer(uid, c.id);
    for (const s of rp?.sandboxes ?? []) {
      if (!s.hostNetwork) await this.d.cni.del({ containerId: s.id, netns: s.netnsPath ?? '', ifName: 'eth0' });
      await this.d.runtime.stopSandbox(s.id);
      if (remove) await this.d.runtime.removeSandbox(s.id);
    }
    if (remove) {
      for (const c of rp?.containers ?? []) await this.d.runtime.removeContainer(c.id);
      this.probes.forgetPod(uid);
      await this.volumes.cleanupVolumes(uid);
      // Docker removes container cgroups asynchronously; a busy pod cgroup is retried by the next teardown of a leftover.
      await removePodCgroup(uid).catch((e: Error) => this.d.log.debug({ uid, err: e.message }, 'pod cgroup not removed yet'));
    }
  }

  /** The pod's containers are gone: finish its graceful deletion in the API. */
  private async finishDeletion(pod: Obj): Promise<void> {
    if (pod.metadata.annotations?.['kubernetes.io/config.source'] === 'file') return;
    try {
      await this.d.api.delete(`/api/v1/namespaces/${pod.metadata.namespace}/pods/${pod.metadata.name}`, { gracePeriodSeconds: 0, preconditions: { uid: pod.metadata.uid } });
    } catch (e) {
      if (!isNotFound(e) && !/Precondition failed/.test(String(e))) throw e;
    }
  }

  private forget(uid: string): void {
    this.pods.delete(uid);
    this.d.backoff.forgetPod(uid);
    this.d.status.forget(uid);
    this.d.events.forgetPod(uid);
  }
}
