/**
 * Server-side defaulting, mirroring what kube-apiserver stores for the kinds we serve:
 * the `SetDefaults_*` functions of pkg/apis/{core,apps,discovery}/v1, the bits of the
 * registry strategies and admission plugins that fill fields on create (ServiceAccount,
 * Priority, the namespace finalizer, Service IP families), and the canonical form
 * resource quantities take when apimachinery re-serializes them (`1024Mi` -> `1Gi`).
 *
 * Contract: every function here mutates its argument in place, is idempotent (applying
 * twice equals applying once), does no I/O and never throws on malformed input: a value
 * of the wrong shape is left for validation to report.
 */
import { formatQuantity, roundUpQuantity, tryParseQuantity } from '../../common/quantity.js';
import { podQOSClass } from '../../common/qos.js';

type Obj = Record<string, any>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const objects = (v: unknown): Obj[] => (Array.isArray(v) ? v.filter(isObj) : []);

export const DEFAULT_TOLERATION_SECONDS = 300;
const NOT_READY = 'node.kubernetes.io/not-ready';
const UNREACHABLE = 'node.kubernetes.io/unreachable';
/** The two built-in PriorityClasses every cluster has. */
const BUILTIN_PRIORITIES: Record<string, number> = { 'system-node-critical': 2000001000, 'system-cluster-critical': 2000000000 };

/**
 * Applies the defaults of `kind` to `obj`. Runs on create and on every update (before
 * validation), so only fields that are absent are filled. Kinds without defaults are untouched.
 */
export function applyDefaults(kind: string, obj: Record<string, any>): void {
  switch (kind) {
    case 'Pod':
      return defaultPod(obj);
    case 'Deployment':
      return defaultDeployment(obj);
    case 'ReplicaSet': {
      const spec = (obj.spec ??= {});
      spec.replicas ??= 1;
      return defaultTemplate(spec);
    }
    case 'DaemonSet':
      return defaultDaemonSet(obj);
    case 'Service':
      return defaultService(obj);
    case 'Secret':
      return defaultSecret(obj);
    case 'Namespace':
      return defaultNamespace(obj);
    case 'Node': {
      const status = obj.status;
      if (!isObj(status)) return;
      canonicalizeResources(status.capacity);
      canonicalizeResources(status.allocatable);
      if (status.allocatable === undefined && isObj(status.capacity)) status.allocatable = { ...status.capacity };
      return;
    }
    case 'Event':
      obj.count ??= 1;
      obj.type ||= 'Normal';
      return;
    case 'Endpoints':
      for (const ss of objects(obj.subsets)) for (const p of objects(ss.ports)) p.protocol ||= 'TCP';
      return;
    case 'EndpointSlice':
      for (const p of objects(obj.ports)) {
        p.name ??= '';
        p.protocol ??= 'TCP';
      }
      return;
  }
}

/**
 * The DefaultTolerationSeconds admission plugin: bare Pods tolerate `not-ready` and
 * `unreachable` NoExecute taints for `seconds`, unless they already tolerate that key
 * (a toleration with that key or no key, and effect NoExecute or none). Call on create only.
 */
export function addDefaultTolerations(pod: Record<string, any>, seconds = DEFAULT_TOLERATION_SECONDS): void {
  const spec = (pod.spec ??= {});
  const existing = objects(spec.tolerations);
  const tolerates = (key: string): boolean =>
    existing.some((t) => (t.key === key || !t.key) && (t.effect === 'NoExecute' || !t.effect));
  const added = [NOT_READY, UNREACHABLE]
    .filter((key) => !tolerates(key))
    .map((key) => ({ key, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: seconds }));
  if (added.length) spec.tolerations = [...(Array.isArray(spec.tolerations) ? spec.tolerations : []), ...added];
}

/** `Always` when the image's tag is `latest` (or absent with no digest), else `IfNotPresent`. */
export function defaultPullPolicy(image: unknown): 'Always' | 'IfNotPresent' {
  // An unparseable reference has no tag: IfNotPresent, as parsers.ParseImageName's caller assumes.
  if (typeof image !== 'string' || image.trim() === '') return 'IfNotPresent';
  const at = image.indexOf('@');
  const name = at >= 0 ? image.slice(0, at) : image;
  const colon = name.lastIndexOf(':');
  // A colon before the last slash belongs to a registry host:port, not a tag.
  const tag = colon > name.lastIndexOf('/') ? name.slice(colon + 1) : at >= 0 ? '' : 'latest';
  return tag === 'latest' ? 'Always' : 'IfNotPresent';
}

function defaultPod(pod: Obj): void {
  const spec = (pod.spec ??= {});
  defaultPodSpec(spec);
  // SetDefaults_Pod: these apply to Pods only, never to templates, so a template's
  // defaulted form stays what the user wrote plus SetDefaults_PodSpec.
  for (const c of [...objects(spec.containers), ...objects(spec.initContainers)]) {
    const res = c.resources;
    if (!isObj(res) || !isObj(res.limits)) continue;
    if (!isObj(res.requests)) res.requests = {};
    for (const [k, v] of Object.entries(res.limits)) if (!(k in res.requests)) res.requests[k] = v;
  }
  spec.enableServiceLinks ??= true;
  if (spec.hostNetwork === true) {
    for (const c of [...objects(spec.containers), ...objects(spec.initContainers)]) {
      for (const p of objects(c.ports)) if (!p.hostPort) p.hostPort = p.containerPort;
    }
  }
  // ServiceAccount admission: every Pod runs as some account.
  if (!spec.serviceAccountName) spec.serviceAccountName = spec.serviceAccount = 'default';
  // Priority admission, without PriorityClass objects: the built-in classes or 0.
  if (spec.priority === undefined) {
    const builtin = BUILTIN_PRIORITIES[spec.priorityClassName];
    if (builtin !== undefined || !spec.priorityClassName) spec.priority = builtin ?? 0;
  }
  spec.preemptionPolicy ||= 'PreemptLowerPriority';
  // The pod strategy's PrepareForCreate: a new Pod is Pending with its QoS class.
  if (pod.status === undefined) pod.status = { phase: 'Pending', qosClass: podQOSClass(pod) };
}

/** SetDefaults_PodSpec and everything nested in it (containers, probes, volumes). */
function defaultPodSpec(spec: Obj): void {
  spec.dnsPolicy ||= 'ClusterFirst';
  spec.restartPolicy ||= 'Always';
  if (!isObj(spec.securityContext)) spec.securityContext = {};
  spec.terminationGracePeriodSeconds ??= 30;
  spec.schedulerName ||= 'default-scheduler';
  // v1 conversion keeps the deprecated serviceAccount mirrored to serviceAccountName.
  if (!spec.serviceAccountName && spec.serviceAccount) spec.serviceAccountName = spec.serviceAccount;
  if (spec.serviceAccountName) spec.serviceAccount = spec.serviceAccountName;
  for (const list of ['containers', 'initContainers', 'ephemeralContainers']) {
    for (const c of objects(spec[list])) defaultContainer(c);
  }
  for (const v of objects(spec.volumes)) defaultVolume(v);
  canonicalizeResources(spec.overhead);
}

function defaultContainer(c: Obj): void {
  c.imagePullPolicy ||= defaultPullPolicy(c.image);
  c.terminationMessagePath ||= '/dev/termination-log';
  c.terminationMessagePolicy ||= 'File';
  // ResourceRequirements is a struct, not a pointer: the wire always carries `resources: {}`.
  if (!isObj(c.resources)) c.resources = {};
  canonicalizeResources(c.resources.limits);
  canonicalizeResources(c.resources.requests);
  for (const p of objects(c.ports)) p.protocol ||= 'TCP';
  for (const probe of [c.livenessProbe, c.readinessProbe, c.startupProbe]) {
    if (!isObj(probe)) continue;
    // Zero means unset for these int32 fields, so an explicit 0 is defaulted too.
    if (!probe.timeoutSeconds) probe.timeoutSeconds = 1;
    if (!probe.periodSeconds) probe.periodSeconds = 10;
    if (!probe.successThreshold) probe.successThreshold = 1;
    if (!probe.failureThreshold) probe.failureThreshold = 3;
    defaultHttpGet(probe.httpGet);
  }
  if (isObj(c.lifecycle)) {
    defaultHttpGet(c.lifecycle.postStart?.httpGet);
    defaultHttpGet(c.lifecycle.preStop?.httpGet);
  }
  for (const e of objects(c.env)) defaultFieldRef(e.valueFrom?.fieldRef);
}

function defaultHttpGet(h: unknown): void {
  if (!isObj(h)) return;
  h.path ||= '/';
  h.scheme ||= 'HTTP';
}

function defaultFieldRef(f: unknown): void {
  if (isObj(f)) f.apiVersion ||= 'v1';
}

function defaultVolume(v: Obj): void {
  // A volume naming no source at all is an emptyDir.
  if (Object.keys(v).every((k) => k === 'name' || v[k] === undefined || v[k] === null)) v.emptyDir = {};
  for (const src of ['configMap', 'secret', 'downwardAPI', 'projected']) {
    if (isObj(v[src])) v[src].defaultMode ??= 420;
  }
  if (isObj(v.hostPath)) v.hostPath.type ??= '';
  if (isObj(v.emptyDir) && v.emptyDir.sizeLimit !== undefined) {
    const q = tryParseQuantity(v.emptyDir.sizeLimit);
    if (q) v.emptyDir.sizeLimit = formatQuantity(q);
  }
  for (const item of objects(v.downwardAPI?.items)) defaultFieldRef(item.fieldRef);
  for (const s of objects(v.projected?.sources)) {
    for (const item of objects(s.downwardAPI?.items)) defaultFieldRef(item.fieldRef);
    if (isObj(s.serviceAccountToken)) s.serviceAccountToken.expirationSeconds ??= 3600;
  }
}

/**
 * SetDefaults_ResourceList rounds each quantity up to milli precision, and the value is
 * then stored in canonical form (`cpu: 1` -> "1", `1024Mi` -> "1Gi"). Unparseable values stay.
 */
function canonicalizeResources(list: unknown): void {
  if (!isObj(list)) return;
  for (const [k, v] of Object.entries(list)) {
    const q = tryParseQuantity(v);
    if (q) list[k] = formatQuantity(roundUpQuantity(q, -3));
  }
}

/** Workload kinds: the pod template is defaulted with SetDefaults_PodSpec only. */
function defaultTemplate(spec: Obj): void {
  const template = (spec.template ??= {});
  if (!isObj(template)) return;
  defaultPodSpec((template.spec ??= {}));
}

function defaultDeployment(d: Obj): void {
  const spec = (d.spec ??= {});
  spec.replicas ??= 1;
  const strategy = (spec.strategy ??= {});
  if (isObj(strategy)) {
    strategy.type ||= 'RollingUpdate';
    if (strategy.type === 'RollingUpdate') {
      const ru = (strategy.rollingUpdate ??= {});
      ru.maxUnavailable ??= '25%';
      ru.maxSurge ??= '25%';
    }
  }
  spec.revisionHistoryLimit ??= 10;
  spec.progressDeadlineSeconds ??= 600;
  defaultTemplate(spec);
}

function defaultDaemonSet(ds: Obj): void {
  const spec = (ds.spec ??= {});
  const strategy = (spec.updateStrategy ??= {});
  if (isObj(strategy)) {
    strategy.type ||= 'RollingUpdate';
    if (strategy.type === 'RollingUpdate') {
      const ru = (strategy.rollingUpdate ??= {});
      ru.maxUnavailable ??= 1;
      ru.maxSurge ??= 0;
    }
  }
  spec.revisionHistoryLimit ??= 10;
  defaultTemplate(spec);
}

function defaultService(svc: Obj): void {
  const spec = (svc.spec ??= {});
  spec.type ||= 'ClusterIP';
  spec.sessionAffinity ||= 'None';
  if (spec.sessionAffinity === 'None') delete spec.sessionAffinityConfig;
  else if (spec.sessionAffinity === 'ClientIP' && spec.sessionAffinityConfig?.clientIP?.timeoutSeconds == null) {
    spec.sessionAffinityConfig = { clientIP: { timeoutSeconds: 10800 } };
  }
  for (const p of objects(spec.ports)) {
    p.protocol ||= 'TCP';
    if (p.targetPort === undefined || p.targetPort === null || p.targetPort === 0 || p.targetPort === '') p.targetPort = p.port;
  }
  const type = spec.type;
  const externallyAccessible = type === 'LoadBalancer' || type === 'NodePort' || (type === 'ClusterIP' && Array.isArray(spec.externalIPs) && spec.externalIPs.length > 0);
  if (externallyAccessible) spec.externalTrafficPolicy ||= 'Cluster';
  if (type === 'ClusterIP' || type === 'NodePort' || type === 'LoadBalancer') spec.internalTrafficPolicy ||= 'Cluster';
  if (type === 'LoadBalancer') spec.allocateLoadBalancerNodePorts ??= true;
  if (type === 'ExternalName') return;
  // The registry keeps clusterIP and clusterIPs[0] in step whichever one the client set.
  const ips = Array.isArray(spec.clusterIPs) ? spec.clusterIPs : [];
  if (spec.clusterIP && ips.length === 0) spec.clusterIPs = [spec.clusterIP];
  else if (!spec.clusterIP && typeof ips[0] === 'string' && ips[0]) spec.clusterIP = ips[0];
  // IP families as the registry assigns them on a single-stack IPv4 cluster. Headless
  // services without a selector may front endpoints of either family, so they take both.
  const headless = spec.clusterIP === 'None';
  const selectorless = !isObj(spec.selector) || Object.keys(spec.selector).length === 0;
  if (headless && selectorless) {
    spec.ipFamilyPolicy ||= 'RequireDualStack';
    if (!Array.isArray(spec.ipFamilies) || spec.ipFamilies.length === 0) {
      spec.ipFamilies = spec.ipFamilyPolicy === 'RequireDualStack' ? ['IPv4', 'IPv6'] : ['IPv4'];
    }
  } else {
    spec.ipFamilyPolicy ||= 'SingleStack';
    if (!Array.isArray(spec.ipFamilies) || spec.ipFamilies.length === 0) spec.ipFamilies = ['IPv4'];
  }
}

function defaultSecret(s: Obj): void {
  s.type ||= 'Opaque';
  // v1 conversion folds the write-only stringData into data (base64) before storage.
  if (isObj(s.stringData)) {
    if (!isObj(s.data)) s.data = {};
    for (const [k, v] of Object.entries(s.stringData)) s.data[k] = Buffer.from(String(v), 'utf8').toString('base64');
    delete s.stringData;
  }
}

function defaultNamespace(ns: Obj): void {
  const meta = (ns.metadata ??= {});
  if (typeof meta.name === 'string' && meta.name) {
    if (!isObj(meta.labels)) meta.labels = {};
    meta.labels['kubernetes.io/metadata.name'] = meta.name;
  }
  const spec = (ns.spec ??= {});
  // The namespace strategy adds the finalizer on create; once the object is being deleted
  // the namespace controller owns the list, and an emptied list must stay empty.
  if (!Array.isArray(spec.finalizers) && !meta.deletionTimestamp) spec.finalizers = ['kubernetes'];
  const status = (ns.status ??= {});
  if (isObj(status)) status.phase ||= 'Active';
}
