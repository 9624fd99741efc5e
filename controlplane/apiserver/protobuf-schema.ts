/**
 * Protobuf field tables for the kinds a typed client (kubectl's `create <generator>`,
 * client-go typed clients) may send as `application/vnd.kubernetes.protobuf`.
 *
 * Field numbers follow the upstream `generated.proto` files: k8s.io/api `core/v1` and
 * `apps/v1`, apimachinery `pkg/apis/meta/v1`, `pkg/util/intstr`, `pkg/api/resource`.
 * Each message is a map from field number to a compact spec string:
 *
 *   `name`            optional string
 *   `name:T`          T is a scalar (see {@link ScalarType}) or the name of another message
 *   `name:[T]`        repeated T
 *   `name:{T}`        map<string, T> (wire: repeated entry messages, key = 1, value = 2)
 *   `...Msg`          an embedded Go struct inlined into the parent in JSON (Volume.VolumeSource)
 *   trailing `!`      keep the zero value ("" / 0 / false): the Go field is a pointer or has no
 *                     `omitempty`, so the JSON form carries it even when zero
 *
 * Without `!` a zero scalar is dropped, because go-to-protobuf writes every non-pointer
 * scalar (empty strings and zeros included) while the JSON form omits them (`omitempty`).
 * A message field that is present always becomes an object, possibly `{}`, as Go's JSON
 * encoder emits non-pointer structs. Fields not listed are skipped on decode.
 */

export type ScalarType = 'str' | 'bool' | 'i32' | 'i64' | 'bytes' | 'qty' | 'ios' | 'time';

const SCALARS = new Set<string>(['str', 'bool', 'i32', 'i64', 'bytes', 'qty', 'ios', 'time']);

/** One field, compiled from its spec string. */
export interface FieldSpec {
  /** JSON name ('' for an inlined struct). */
  name: string;
  /** A scalar type or a message name. */
  type: string;
  scalar: boolean;
  repeated: boolean;
  map: boolean;
  inline: boolean;
  keepZero: boolean;
}

export type MessageSpec = ReadonlyMap<number, FieldSpec>;

const OBJECT = 'metadata:ObjectMeta';
const TEMPLATE_SPEC = { 1: OBJECT, 2: 'spec:PodSpec' };
const KEY_REF = { 1: '...LocalObjectReference', 2: 'key!', 3: 'optional:bool!' };
const ENV_REF = { 1: '...LocalObjectReference', 2: 'optional:bool!' };
const PROJECTION = { 1: '...LocalObjectReference', 2: 'items:[KeyToPath]', 4: 'optional:bool!' };
const HANDLER = { 1: 'exec:ExecAction', 2: 'httpGet:HTTPGetAction', 3: 'tcpSocket:TCPSocketAction' };
const SELINUX = { 1: 'user', 2: 'role', 3: 'type', 4: 'level' };
const PROFILE = { 1: 'type!', 2: 'localhostProfile!' };
const ROLLING = { 1: 'maxUnavailable:ios!', 2: 'maxSurge:ios!' };

const TABLES: Record<string, Record<number, string>> = {
  // k8s.io/apimachinery/pkg/apis/meta/v1
  ObjectMeta: {
    1: 'name', 2: 'generateName', 3: 'namespace', 4: 'selfLink', 5: 'uid', 6: 'resourceVersion', 7: 'generation:i64',
    8: 'creationTimestamp:time', 9: 'deletionTimestamp:time', 10: 'deletionGracePeriodSeconds:i64!',
    11: 'labels:{str}', 12: 'annotations:{str}', 13: 'ownerReferences:[OwnerReference]', 14: 'finalizers:[str]',
  },
  OwnerReference: { 5: 'apiVersion!', 1: 'kind!', 3: 'name!', 4: 'uid!', 6: 'controller:bool!', 7: 'blockOwnerDeletion:bool!' },
  LabelSelector: { 1: 'matchLabels:{str}', 2: 'matchExpressions:[LabelSelectorRequirement]' },
  LabelSelectorRequirement: { 1: 'key!', 2: 'operator!', 3: 'values:[str]' },
  // Status is server-owned and dropped on create and update of the main resource.
  Ignored: {},

  // k8s.io/api/core/v1: top-level kinds
  Namespace: { 1: OBJECT, 2: 'spec:NamespaceSpec', 3: 'status:NamespaceStatus' },
  NamespaceSpec: { 1: 'finalizers:[str]' },
  NamespaceStatus: { 1: 'phase' },
  ConfigMap: { 1: OBJECT, 2: 'data:{str}', 3: 'binaryData:{bytes}', 4: 'immutable:bool!' },
  Secret: { 1: OBJECT, 2: 'data:{bytes}', 3: 'type', 4: 'stringData:{str}', 5: 'immutable:bool!' },
  ServiceAccount: {
    1: OBJECT, 2: 'secrets:[ObjectReference]', 3: 'imagePullSecrets:[LocalObjectReference]', 4: 'automountServiceAccountToken:bool!',
  },
  Service: { 1: OBJECT, 2: 'spec:ServiceSpec', 3: 'status:Ignored' },
  Pod: { 1: OBJECT, 2: 'spec:PodSpec', 3: 'status:Ignored' },

  // core/v1: references
  ObjectReference: { 1: 'kind', 2: 'namespace', 3: 'name', 4: 'uid', 5: 'apiVersion', 6: 'resourceVersion', 7: 'fieldPath' },
  LocalObjectReference: { 1: 'name' },

  // core/v1: Service
  ServiceSpec: {
    1: 'ports:[ServicePort]', 2: 'selector:{str}', 3: 'clusterIP', 18: 'clusterIPs:[str]', 4: 'type', 5: 'externalIPs:[str]',
    7: 'sessionAffinity', 8: 'loadBalancerIP', 9: 'loadBalancerSourceRanges:[str]', 10: 'externalName',
    11: 'externalTrafficPolicy', 12: 'healthCheckNodePort:i32', 13: 'publishNotReadyAddresses:bool',
    14: 'sessionAffinityConfig:SessionAffinityConfig', 19: 'ipFamilies:[str]', 17: 'ipFamilyPolicy!',
    20: 'allocateLoadBalancerNodePorts:bool!', 21: 'loadBalancerClass!', 22: 'internalTrafficPolicy!', 23: 'trafficDistribution!',
  },
  ServicePort: { 1: 'name', 2: 'protocol', 6: 'appProtocol!', 3: 'port:i32!', 4: 'targetPort:ios', 5: 'nodePort:i32' },
  SessionAffinityConfig: { 1: 'clientIP:ClientIPConfig' },
  ClientIPConfig: { 1: 'timeoutSeconds:i32!' },

  // core/v1: pods
  PodTemplateSpec: TEMPLATE_SPEC,
  PodSpec: {
    1: 'volumes:[Volume]', 20: 'initContainers:[Container]', 2: 'containers:[Container]', 3: 'restartPolicy',
    4: 'terminationGracePeriodSeconds:i64!', 5: 'activeDeadlineSeconds:i64!', 6: 'dnsPolicy', 7: 'nodeSelector:{str}',
    8: 'serviceAccountName', 9: 'serviceAccount', 21: 'automountServiceAccountToken:bool!', 10: 'nodeName',
    11: 'hostNetwork:bool', 12: 'hostPID:bool', 13: 'hostIPC:bool', 27: 'shareProcessNamespace:bool!',
    14: 'securityContext:PodSecurityContext', 15: 'imagePullSecrets:[LocalObjectReference]', 16: 'hostname', 17: 'subdomain',
    18: 'affinity:Affinity', 19: 'schedulerName', 22: 'tolerations:[Toleration]', 23: 'hostAliases:[HostAlias]',
    24: 'priorityClassName', 25: 'priority:i32!', 26: 'dnsConfig:PodDNSConfig', 28: 'readinessGates:[PodReadinessGate]',
    29: 'runtimeClassName!', 30: 'enableServiceLinks:bool!', 31: 'preemptionPolicy!', 32: 'overhead:{qty}',
    33: 'topologySpreadConstraints:[TopologySpreadConstraint]', 35: 'setHostnameAsFQDN:bool!', 36: 'os:PodOS',
    37: 'hostUsers:bool!', 38: 'schedulingGates:[PodSchedulingGate]', 40: 'resources:ResourceRequirements',
  },
  Container: {
    1: 'name!', 2: 'image', 3: 'command:[str]', 4: 'args:[str]', 5: 'workingDir', 6: 'ports:[ContainerPort]',
    19: 'envFrom:[EnvFromSource]', 7: 'env:[EnvVar]', 8: 'resources:ResourceRequirements', 23: 'resizePolicy:[ContainerResizePolicy]',
    24: 'restartPolicy!', 9: 'volumeMounts:[VolumeMount]', 21: 'volumeDevices:[VolumeDevice]', 10: 'livenessProbe:Probe',
    11: 'readinessProbe:Probe', 22: 'startupProbe:Probe', 12: 'lifecycle:Lifecycle', 13: 'terminationMessagePath',
    20: 'terminationMessagePolicy', 14: 'imagePullPolicy', 15: 'securityContext:SecurityContext', 16: 'stdin:bool',
    17: 'stdinOnce:bool', 18: 'tty:bool',
  },
  ContainerPort: { 1: 'name', 2: 'hostPort:i32', 3: 'containerPort:i32!', 4: 'protocol', 5: 'hostIP' },
  ContainerResizePolicy: { 1: 'resourceName!', 2: 'restartPolicy!' },
  VolumeDevice: { 1: 'name!', 2: 'devicePath!' },
  EnvVar: { 1: 'name!', 2: 'value', 3: 'valueFrom:EnvVarSource' },
  EnvVarSource: {
    1: 'fieldRef:ObjectFieldSelector', 2: 'resourceFieldRef:ResourceFieldSelector',
    3: 'configMapKeyRef:ConfigMapKeySelector', 4: 'secretKeyRef:SecretKeySelector',
  },
  ObjectFieldSelector: { 1: 'apiVersion', 2: 'fieldPath!' },
  ResourceFieldSelector: { 1: 'containerName', 2: 'resource!', 3: 'divisor:qty' },
  ConfigMapKeySelector: KEY_REF,
  SecretKeySelector: KEY_REF,
  EnvFromSource: { 1: 'prefix', 2: 'configMapRef:ConfigMapEnvSource', 3: 'secretRef:SecretEnvSource' },
  ConfigMapEnvSource: ENV_REF,
  SecretEnvSource: ENV_REF,
  ResourceRequirements: { 1: 'limits:{qty}', 2: 'requests:{qty}', 3: 'claims:[ResourceClaim]' },
  ResourceClaim: { 1: 'name!', 2: 'request' },
  VolumeMount: {
    1: 'name!', 2: 'readOnly:bool', 7: 'recursiveReadOnly!', 3: 'mountPath!', 4: 'subPath', 5: 'mountPropagation!', 6: 'subPathExpr',
  },
  Probe: {
    1: '...ProbeHandler', 2: 'initialDelaySeconds:i32', 3: 'timeoutSeconds:i32', 4: 'periodSeconds:i32',
    5: 'successThreshold:i32', 6: 'failureThreshold:i32', 7: 'terminationGracePeriodSeconds:i64!',
  },
  ProbeHandler: { ...HANDLER, 4: 'grpc:GRPCAction' },
  LifecycleHandler: { ...HANDLER, 4: 'sleep:SleepAction' },
  Lifecycle: { 1: 'postStart:LifecycleHandler', 2: 'preStop:LifecycleHandler', 3: 'stopSignal!' },
  ExecAction: { 1: 'command:[str]' },
  HTTPGetAction: { 1: 'path', 2: 'port:ios!', 3: 'host', 4: 'scheme', 5: 'httpHeaders:[HTTPHeader]' },
  HTTPHeader: { 1: 'name!', 2: 'value!' },
  TCPSocketAction: { 1: 'port:ios!', 2: 'host' },
  GRPCAction: { 1: 'port:i32!', 2: 'service!' },
  SleepAction: { 1: 'seconds:i64!' },
  SecurityContext: {
    1: 'capabilities:Capabilities', 2: 'privileged:bool!', 3: 'seLinuxOptions:SELinuxOptions',
    10: 'windowsOptions:WindowsSecurityContextOptions', 4: 'runAsUser:i64!', 8: 'runAsGroup:i64!', 5: 'runAsNonRoot:bool!',
    6: 'readOnlyRootFilesystem:bool!', 7: 'allowPrivilegeEscalation:bool!', 9: 'procMount!',
    11: 'seccompProfile:SeccompProfile', 12: 'appArmorProfile:AppArmorProfile',
  },
  PodSecurityContext: {
    1: 'seLinuxOptions:SELinuxOptions', 8: 'windowsOptions:WindowsSecurityContextOptions', 2: 'runAsUser:i64!',
    6: 'runAsGroup:i64!', 3: 'runAsNonRoot:bool!', 4: 'supplementalGroups:[i64]', 12: 'supplementalGroupsPolicy!',
    5: 'fsGroup:i64!', 7: 'sysctls:[Sysctl]', 9: 'fsGroupChangePolicy!', 10: 'seccompProfile:SeccompProfile',
    11: 'appArmorProfile:AppArmorProfile',
  },
  Capabilities: { 1: 'add:[str]', 2: 'drop:[str]' },
  SELinuxOptions: SELINUX,
  WindowsSecurityContextOptions: { 1: 'gmsaCredentialSpecName!', 2: 'gmsaCredentialSpec!', 3: 'runAsUserName!', 4: 'hostProcess:bool!' },
  SeccompProfile: PROFILE,
  AppArmorProfile: PROFILE,
  Sysctl: { 1: 'name!', 2: 'value!' },
  Toleration: { 1: 'key', 2: 'operator', 3: 'value', 4: 'effect', 5: 'tolerationSeconds:i64!' },
  HostAlias: { 1: 'ip', 2: 'hostnames:[str]' },
  PodDNSConfig: { 1: 'nameservers:[str]', 2: 'searches:[str]', 3: 'options:[PodDNSConfigOption]' },
  PodDNSConfigOption: { 1: 'name', 2: 'value!' },
  PodReadinessGate: { 1: 'conditionType!' },
  PodOS: { 1: 'name!' },
  PodSchedulingGate: { 1: 'name!' },
  TopologySpreadConstraint: {
    1: 'maxSkew:i32!', 2: 'topologyKey!', 3: 'whenUnsatisfiable!', 4: 'labelSelector:LabelSelector', 5: 'minDomains:i32!',
    6: 'nodeAffinityPolicy!', 7: 'nodeTaintsPolicy!', 8: 'matchLabelKeys:[str]',
  },
  Affinity: { 1: 'nodeAffinity:NodeAffinity', 2: 'podAffinity:PodAffinity', 3: 'podAntiAffinity:PodAffinity' },
  NodeAffinity: {
    1: 'requiredDuringSchedulingIgnoredDuringExecution:NodeSelector',
    2: 'preferredDuringSchedulingIgnoredDuringExecution:[PreferredSchedulingTerm]',
  },
  NodeSelector: { 1: 'nodeSelectorTerms:[NodeSelectorTerm]' },
  NodeSelectorTerm: { 1: 'matchExpressions:[NodeSelectorRequirement]', 2: 'matchFields:[NodeSelectorRequirement]' },
  NodeSelectorRequirement: { 1: 'key!', 2: 'operator!', 3: 'values:[str]' },
  PreferredSchedulingTerm: { 1: 'weight:i32!', 2: 'preference:NodeSelectorTerm' },
  // Pod affinity and anti-affinity share one message shape.
  PodAffinity: {
    1: 'requiredDuringSchedulingIgnoredDuringExecution:[PodAffinityTerm]',
    2: 'preferredDuringSchedulingIgnoredDuringExecution:[WeightedPodAffinityTerm]',
  },
  PodAffinityTerm: {
    1: 'labelSelector:LabelSelector', 2: 'namespaces:[str]', 3: 'topologyKey!', 4: 'namespaceSelector:LabelSelector',
    5: 'matchLabelKeys:[str]', 6: 'mismatchLabelKeys:[str]',
  },
  WeightedPodAffinityTerm: { 1: 'weight:i32!', 2: 'podAffinityTerm:PodAffinityTerm' },

  // core/v1: volumes
  Volume: { 1: 'name!', 2: '...VolumeSource' },
  VolumeSource: {
    1: 'hostPath:HostPathVolumeSource', 2: 'emptyDir:EmptyDirVolumeSource', 6: 'secret:SecretVolumeSource',
    7: 'nfs:NFSVolumeSource', 10: 'persistentVolumeClaim:PersistentVolumeClaimVolumeSource',
    16: 'downwardAPI:DownwardAPIVolumeSource', 19: 'configMap:ConfigMapVolumeSource', 26: 'projected:ProjectedVolumeSource',
  },
  HostPathVolumeSource: { 1: 'path!', 2: 'type!' },
  EmptyDirVolumeSource: { 1: 'medium', 2: 'sizeLimit:qty!' },
  SecretVolumeSource: { 1: 'secretName', 2: 'items:[KeyToPath]', 3: 'defaultMode:i32!', 4: 'optional:bool!' },
  ConfigMapVolumeSource: { 1: '...LocalObjectReference', 2: 'items:[KeyToPath]', 3: 'defaultMode:i32!', 4: 'optional:bool!' },
  KeyToPath: { 1: 'key!', 2: 'path!', 3: 'mode:i32!' },
  NFSVolumeSource: { 1: 'server!', 2: 'path!', 3: 'readOnly:bool' },
  PersistentVolumeClaimVolumeSource: { 1: 'claimName!', 2: 'readOnly:bool' },
  DownwardAPIVolumeSource: { 1: 'items:[DownwardAPIVolumeFile]', 2: 'defaultMode:i32!' },
  DownwardAPIVolumeFile: { 1: 'path!', 2: 'fieldRef:ObjectFieldSelector', 3: 'resourceFieldRef:ResourceFieldSelector', 4: 'mode:i32!' },
  ProjectedVolumeSource: { 1: 'sources:[VolumeProjection]', 2: 'defaultMode:i32!' },
  VolumeProjection: {
    1: 'secret:SecretProjection', 2: 'downwardAPI:DownwardAPIProjection', 3: 'configMap:ConfigMapProjection',
    4: 'serviceAccountToken:ServiceAccountTokenProjection',
  },
  SecretProjection: PROJECTION,
  ConfigMapProjection: PROJECTION,
  DownwardAPIProjection: { 1: 'items:[DownwardAPIVolumeFile]' },
  ServiceAccountTokenProjection: { 1: 'audience', 2: 'expirationSeconds:i64!', 3: 'path!' },

  // k8s.io/api/apps/v1
  Deployment: { 1: OBJECT, 2: 'spec:DeploymentSpec', 3: 'status:Ignored' },
  DeploymentSpec: {
    1: 'replicas:i32!', 2: 'selector:LabelSelector', 3: 'template:PodTemplateSpec', 4: 'strategy:DeploymentStrategy',
    5: 'minReadySeconds:i32', 6: 'revisionHistoryLimit:i32!', 7: 'paused:bool', 9: 'progressDeadlineSeconds:i32!',
  },
  DeploymentStrategy: { 1: 'type', 2: 'rollingUpdate:RollingUpdateDeployment' },
  RollingUpdateDeployment: ROLLING,
  ReplicaSet: { 1: OBJECT, 2: 'spec:ReplicaSetSpec', 3: 'status:Ignored' },
  ReplicaSetSpec: { 1: 'replicas:i32!', 4: 'minReadySeconds:i32', 2: 'selector:LabelSelector', 3: 'template:PodTemplateSpec' },
  DaemonSet: { 1: OBJECT, 2: 'spec:DaemonSetSpec', 3: 'status:Ignored' },
  DaemonSetSpec: {
    1: 'selector:LabelSelector', 2: 'template:PodTemplateSpec', 3: 'updateStrategy:DaemonSetUpdateStrategy',
    4: 'minReadySeconds:i32', 6: 'revisionHistoryLimit:i32!',
  },
  DaemonSetUpdateStrategy: { 1: 'type', 2: 'rollingUpdate:RollingUpdateDaemonSet' },
  RollingUpdateDaemonSet: ROLLING,
};

/** `apiVersion/kind` of each top-level kind we decode, to its message name. */
const KINDS: Record<string, string> = {
  'v1/Namespace': 'Namespace',
  'v1/ConfigMap': 'ConfigMap',
  'v1/Secret': 'Secret',
  'v1/ServiceAccount': 'ServiceAccount',
  'v1/Service': 'Service',
  'v1/Pod': 'Pod',
  'apps/v1/Deployment': 'Deployment',
  'apps/v1/ReplicaSet': 'ReplicaSet',
  'apps/v1/DaemonSet': 'DaemonSet',
};

const compiled = new Map<string, MessageSpec>();

function compileField(spec: string, where: string): FieldSpec {
  if (spec.startsWith('...')) {
    return { name: '', type: spec.slice(3), scalar: false, repeated: false, map: false, inline: true, keepZero: false };
  }
  const keepZero = spec.endsWith('!');
  const body = keepZero ? spec.slice(0, -1) : spec;
  const colon = body.indexOf(':');
  const name = colon < 0 ? body : body.slice(0, colon);
  let type = colon < 0 ? 'str' : body.slice(colon + 1);
  const repeated = type.startsWith('[');
  const map = type.startsWith('{');
  if (repeated || map) type = type.slice(1, -1);
  const scalar = SCALARS.has(type);
  if (!scalar && !(type in TABLES)) throw new Error(`protobuf schema: ${where}.${name} names unknown message ${type}`);
  return { name, type, scalar, repeated, map, inline: false, keepZero };
}

/** The compiled field table of message `name`; throws on a name missing from the tables (a bug here). */
export function messageSpec(name: string): MessageSpec {
  let m = compiled.get(name);
  if (m) return m;
  const table = TABLES[name];
  if (!table) throw new Error(`protobuf schema: unknown message ${name}`);
  const fields = new Map<number, FieldSpec>();
  for (const [num, spec] of Object.entries(table)) fields.set(Number(num), compileField(spec, name));
  compiled.set(name, (m = fields));
  return m;
}

/** The message name for a top-level object of `apiVersion`/`kind`, or undefined if we cannot decode it. */
export function kindMessage(apiVersion: string, kind: string): string | undefined {
  return KINDS[`${apiVersion}/${kind}`];
}

/** Every message name in the tables (for tests that check the tables compile). */
export function messageNames(): string[] {
  return Object.keys(TABLES);
}
