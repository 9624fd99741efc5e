/**
 * The container runtime as the kubelet sees it: sandboxes (one per pod, holding
 * the pod's network and IPC namespaces) and containers joined to them. Shaped
 * after the CRI's RuntimeService/ImageService so a containerd implementation
 * can sit behind the same interface later.
 *
 * Contract: every object the runtime creates for Skiff carries the CRI labels
 * (io.kubernetes.pod.name/namespace/uid, io.kubernetes.container.name) plus
 * `skiff.io/*` labels, and `list*` returns exactly those objects, so the
 * kubelet can rebuild its whole view from a relist (adoption after restart).
 * Removing something already gone is success.
 */
import type { Readable, Writable } from 'node:stream';

export const LABEL_POD_NAME = 'io.kubernetes.pod.name';
export const LABEL_POD_NAMESPACE = 'io.kubernetes.pod.namespace';
export const LABEL_POD_UID = 'io.kubernetes.pod.uid';
export const LABEL_CONTAINER_NAME = 'io.kubernetes.container.name';
/** "sandbox" or "container". */
export const LABEL_KIND = 'skiff.io/kind';
/** Restart attempt of a container (0, 1, ...) or of a sandbox. */
export const LABEL_ATTEMPT = 'skiff.io/attempt';
/** JSON of the hash of the container spec it was created from (restart when it changes). */
export const LABEL_SPEC_HASH = 'skiff.io/spec-hash';
/** "init" for init containers. */
export const LABEL_CONTAINER_TYPE = 'skiff.io/container-type';
/** Termination grace and message path travel with the container, as in CRI annotations. */
export const LABEL_TERMINATION_MESSAGE_PATH = 'skiff.io/termination-message-path';

export interface PodRef {
  uid: string;
  name: string;
  namespace: string;
}

export interface Mount {
  hostPath: string;
  containerPath: string;
  readOnly?: boolean;
}

export interface Resources {
  /** cpu.shares (v1) / derived cpu.weight (v2), from requests.cpu: millicores * 1024 / 1000, min 2. */
  cpuShares?: number;
  /** cpu.cfs_quota_us from limits.cpu (period 100000), undefined when no limit. */
  cpuQuota?: number;
  cpuPeriod?: number;
  /** Bytes, from limits.memory. */
  memoryLimit?: number;
}

export interface SandboxSpec {
  pod: PodRef;
  attempt: number;
  hostname: string;
  /** Cgroup parent of the pod, e.g. /skiff/burstable/pod<uid> (cgroupfs driver). */
  cgroupParent: string;
  hostNetwork: boolean;
  /** Lines for /etc/resolv.conf; undefined keeps the runtime's default. */
  dns?: { servers: string[]; searches: string[]; options: string[] };
  /** Extra /etc/hosts entries. */
  hostAliases?: { ip: string; hostnames: string[] }[];
  labels?: Record<string, string>;
}

export interface SandboxStatus {
  id: string;
  pod: PodRef;
  attempt: number;
  state: 'ready' | 'notready';
  createdAt: Date;
  /** Pid of the sandbox's init process (0 when not running). */
  pid: number;
  /** /proc/<pid>/ns/net while running. */
  netnsPath?: string;
  hostNetwork: boolean;
  labels: Record<string, string>;
}

export interface ContainerSpec {
  pod: PodRef;
  sandboxId: string;
  name: string;
  attempt: number;
  image: string;
  /** Entrypoint override (Kubernetes `command`), and arguments (`args`). */
  command?: string[];
  args?: string[];
  env: { name: string; value: string }[];
  workingDir?: string;
  mounts: Mount[];
  resources: Resources;
  cgroupParent: string;
  tty?: boolean;
  stdin?: boolean;
  stdinOnce?: boolean;
  /** Numeric uid/gid to run as; privileged and capabilities from securityContext. */
  user?: string;
  privileged?: boolean;
  capAdd?: string[];
  capDrop?: string[];
  readOnlyRootfs?: boolean;
  init?: boolean;
  specHash: string;
  terminationMessagePath?: string;
  labels?: Record<string, string>;
}

export type ContainerState = 'created' | 'running' | 'exited' | 'unknown';

export interface ContainerStatus {
  id: string;
  pod: PodRef;
  sandboxId?: string;
  name: string;
  attempt: number;
  init: boolean;
  image: string;
  imageId: string;
  state: ContainerState;
  createdAt: Date;
  startedAt?: Date;
  finishedAt?: Date;
  exitCode?: number;
  oomKilled?: boolean;
  /** Runtime's error text when it failed to start. */
  error?: string;
  pid: number;
  specHash: string;
  labels: Record<string, string>;
}

export interface LogOptions {
  follow?: boolean;
  /** Last N lines; undefined = all. */
  tail?: number;
  /** Unix seconds. */
  since?: number;
  timestamps?: boolean;
}

export interface ExecOptions {
  tty?: boolean;
  stdin?: boolean;
  stdout?: boolean;
  stderr?: boolean;
}

/** A running exec session: wire its streams, then await `exitCode`. */
export interface ExecSession {
  stdin?: Writable;
  stdout: Readable;
  /** Absent with a tty (stderr is merged into stdout). */
  stderr?: Readable;
  resize(width: number, height: number): Promise<void>;
  /** Resolves with the process's exit code once it has ended and output is drained. */
  exitCode: Promise<number>;
}

export interface Runtime {
  readonly name: string;
  version(): Promise<{ runtime: string; version: string; apiVersion: string }>;

  imagePresent(image: string): Promise<boolean>;
  pullImage(image: string, signal?: AbortSignal): Promise<void>;
  imageId(image: string): Promise<string | undefined>;

  /** Creates and starts the sandbox (no network of its own unless hostNetwork). */
  runSandbox(spec: SandboxSpec): Promise<SandboxStatus>;
  stopSandbox(id: string): Promise<void>;
  removeSandbox(id: string): Promise<void>;
  listSandboxes(): Promise<SandboxStatus[]>;

  createContainer(spec: ContainerSpec): Promise<string>;
  startContainer(id: string): Promise<void>;
  /** SIGTERM, then SIGKILL after `graceSeconds`; resolves when the container has exited. */
  stopContainer(id: string, graceSeconds: number): Promise<void>;
  removeContainer(id: string): Promise<void>;
  listContainers(): Promise<ContainerStatus[]>;
  inspectContainer(id: string): Promise<ContainerStatus | undefined>;

  /** Copies the container's log to `out` (demultiplexed, stdout and stderr interleaved); ends when `signal` aborts with follow. */
  logs(id: string, opts: LogOptions, out: Writable, signal?: AbortSignal): Promise<void>;
  exec(id: string, cmd: string[], opts: ExecOptions): Promise<ExecSession>;
  /** Runs a command to completion (probes, hooks), killed after `timeoutMs`. */
  execSync(id: string, cmd: string[], timeoutMs: number): Promise<{ exitCode: number; output: string; timedOut: boolean }>;
}
