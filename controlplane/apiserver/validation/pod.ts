/**
 * Pod and pod-template validation after pkg/apis/core/validation (ValidatePodCreate,
 * ValidatePodSpec, ValidatePodUpdate, ValidatePodTemplateSpec). Input is the *defaulted*
 * v1 object: fields SetDefaults fills (restartPolicy, imagePullPolicy, port protocols,
 * terminationGracePeriodSeconds, ...) are `Required` when absent, as in Kubernetes.
 */
import type { FieldError } from '../../../common/errors.js';
import { applyDefaults } from '../defaults.js';
import { QUANTITY_FORMAT_MESSAGE, compareQuantities, formatQuantity, tryParseQuantity, type Quantity } from '../../../common/quantity.js';
import {
  duplicate, entries, enumField, forbidden, goJson, invalid, invalidEach, isDNS1123Label, isObj, isQualifiedName, isValidPortName, isValidPortNum,
  isLabelValue, jsonEqual, list, nameIsDNSSubdomain, nonNegative, notFound, notSupported, optInt, required, validateAnnotations, validateLabels,
  validateObjectMeta, validateObjectMetaUpdate, validatePortNumOrName, type Obj,
} from './meta.js';

const MAX_INT32 = 2147483647;
const PROTOCOLS = ['SCTP', 'TCP', 'UDP'];
const ENV_FIELD_PATHS = ['metadata.name', 'metadata.namespace', 'metadata.uid', 'spec.nodeName', 'spec.serviceAccountName', 'status.hostIP', 'status.hostIPs', 'status.podIP', 'status.podIPs'];
/** Volume sources in the order validateVolumeSource visits them, with the path it reports (typo included). */
const VOLUME_SOURCES: [string, string][] = [
  ['emptyDir', 'emptyDir'], ['hostPath', 'hostPath'], ['gitRepo', 'gitRepo'], ['gcePersistentDisk', 'gcePersistentDisk'],
  ['awsElasticBlockStore', 'awsElasticBlockStore'], ['secret', 'secret'], ['nfs', 'nfs'], ['iscsi', 'iscsi'], ['glusterfs', 'glusterfs'],
  ['flocker', 'flocker'], ['persistentVolumeClaim', 'persistentVolumeClaim'], ['rbd', 'rbd'], ['cinder', 'cinder'], ['cephfs', 'cephFS'],
  ['quobyte', 'quobyte'], ['downwardAPI', 'downwarAPI'], ['fc', 'fc'], ['flexVolume', 'flexVolume'], ['configMap', 'configMap'],
  ['azureFile', 'azureFile'], ['vsphereVolume', 'vsphereVolume'], ['photonPersistentDisk', 'photonPersistentDisk'], ['portworxVolume', 'portworxVolume'],
  ['azureDisk', 'azureDisk'], ['storageos', 'storageos'], ['projected', 'projected'], ['scaleIO', 'scaleIO'], ['csi', 'csi'], ['ephemeral', 'ephemeral'], ['image', 'image'],
];
/** Fields the sources we run must name. */
const SOURCE_REQUIRED: Record<string, string[]> = { hostPath: ['path'], secret: ['secretName'], configMap: ['name'], persistentVolumeClaim: ['claimName'], nfs: ['server', 'path'] };
const STANDARD_RESOURCES = new Set(['cpu', 'memory', 'ephemeral-storage', 'storage', 'pods', 'services', 'replicationcontrollers', 'resourcequotas', 'secrets', 'configmaps', 'persistentvolumeclaims']);
const isHugePages = (n: string): boolean => n.startsWith('hugepages-');
const isNative = (n: string): boolean => !n.includes('/') || n.includes('kubernetes.io/');
const overcommitAllowed = (n: string): boolean => isNative(n) && !isHugePages(n);
const isExtended = (n: string): boolean => !isNative(n) && !n.startsWith('requests.') && isQualifiedName(`requests.${n}`).length === 0;

function validateResourceName(errs: FieldError[], field: string, name: string): void {
  const msgs = isQualifiedName(name);
  if (msgs.length) return void errs.push(...invalidEach(field, name, msgs));
  if (!name.includes('/')) {
    if (!STANDARD_RESOURCES.has(name) && !isHugePages(name)) errs.push(invalid(field, name, 'must be a standard resource type or fully qualified'));
    if (!['cpu', 'memory', 'ephemeral-storage'].includes(name) && !isHugePages(name)) errs.push(invalid(field, name, 'must be a standard resource for containers'));
  } else if (!isNative(name) && !isExtended(name)) {
    errs.push(invalid(field, name, "doesn't follow extended resource name standard"));
  }
}

/** ValidateResourceQuantityValue: parseable, non-negative, whole for extended resources. */
export function validateQuantityValue(errs: FieldError[], field: string, name: string, v: unknown): Quantity | undefined {
  const q = tryParseQuantity(v);
  if (!q) return void errs.push(invalid(field, v, QUANTITY_FORMAT_MESSAGE));
  if (q.nanos < 0n) errs.push(invalid(field, formatQuantity(q), 'must be greater than or equal to 0'));
  if (isExtended(name) && q.nanos % 1_000_000_000n !== 0n) errs.push(invalid(field, formatQuantity(q), 'must be an integer'));
  return q;
}

function validateResources(errs: FieldError[], res: unknown, path: string): void {
  if (!isObj(res)) return;
  const limits = new Map<string, Quantity>();
  let cpuOrMemory = false;
  let hugePages = false;
  for (const [name, v] of entries(res.limits)) {
    validateResourceName(errs, `${path}.limits[${name}]`, name);
    const q = validateQuantityValue(errs, `${path}.limits[${name}]`, name, v);
    if (q) limits.set(name, q);
    cpuOrMemory ||= name === 'cpu' || name === 'memory';
    hugePages ||= isHugePages(name);
  }
  for (const [name, v] of entries(res.requests)) {
    validateResourceName(errs, `${path}.requests[${name}]`, name);
    const q = validateQuantityValue(errs, `${path}.requests[${name}]`, name, v);
    cpuOrMemory ||= name === 'cpu' || name === 'memory';
    hugePages ||= isHugePages(name);
    const lim = limits.get(name);
    if (q && lim) {
      const cmp = compareQuantities(q, lim);
      if (cmp !== 0 && !overcommitAllowed(name)) errs.push(invalid(`${path}.requests`, formatQuantity(q), `must be equal to ${name} limit of ${formatQuantity(lim)}`));
      else if (cmp > 0) errs.push(invalid(`${path}.requests`, formatQuantity(q), `must be less than or equal to ${name} limit of ${formatQuantity(lim)}`));
    } else if (!lim && !overcommitAllowed(name) && !(isObj(res.limits) && name in res.limits)) {
      errs.push(required(`${path}.limits`, 'Limit must be set for non overcommitable resources'));
    }
  }
  if (hugePages && !cpuOrMemory) errs.push(forbidden(path, 'HugePages require cpu or memory'));
}

function validateVolumes(errs: FieldError[], volumes: unknown, path: string): Set<string> {
  const names = new Set<string>();
  list(volumes).forEach((v, i) => {
    const p = `${path}[${i}]`;
    if (!isObj(v)) return void errs.push(required(`${p}.name`));
    const el: FieldError[] = [];
    let count = 0;
    for (const [key, reported] of VOLUME_SOURCES) {
      if (v[key] === undefined || v[key] === null) continue;
      if (count++ > 0) el.push(forbidden(`${p}.${reported}`, 'may not specify more than 1 volume type'));
      else validateVolumeSource(el, key, v[key], `${p}.${key}`);
    }
    if (count === 0) el.push(required(p, 'must specify a volume type'));
    if (!v.name) el.push(required(`${p}.name`));
    else el.push(...invalidEach(`${p}.name`, v.name, isDNS1123Label(String(v.name))));
    if (names.has(v.name)) el.push(duplicate(`${p}.name`, v.name));
    if (el.length) errs.push(...el);
    else names.add(v.name);
  });
  return names;
}

function validateVolumeSource(errs: FieldError[], key: string, src: Obj, p: string): void {
  for (const f of SOURCE_REQUIRED[key] ?? []) if (!src[f]) errs.push(required(`${p}.${f}`));
  if (key === 'emptyDir' && src.sizeLimit !== undefined && tryParseQuantity(src.sizeLimit) === undefined) errs.push(invalid(`${p}.sizeLimit`, src.sizeLimit, QUANTITY_FORMAT_MESSAGE));
  if (key === 'secret' || key === 'configMap' || key === 'downwardAPI' || key === 'projected') {
    const mode = optInt(errs, `${p}.defaultMode`, src.defaultMode);
    if (mode !== undefined && (mode < 0 || mode > 0o777)) errs.push(invalid(`${p}.defaultMode`, mode, 'must be a number between 0 and 0777 (octal), both inclusive'));
  }
  if (key === 'secret' || key === 'configMap') {
    list(src.items).forEach((it, i) => {
      if (!isObj(it) || !it.key) errs.push(required(`${p}.items[${i}].key`));
      if (!isObj(it) || !it.path) errs.push(required(`${p}.items[${i}].path`));
    });
  }
}

function validateContainerPorts(errs: FieldError[], ports: unknown, path: string): void {
  const names = new Set<string>();
  list(ports).forEach((port, i) => {
    const p = `${path}[${i}]`;
    if (!isObj(port)) return void errs.push(required(`${p}.containerPort`));
    if (port.name) {
      const msgs = isValidPortName(String(port.name));
      if (msgs.length) errs.push(...invalidEach(`${p}.name`, port.name, msgs));
      else if (names.has(port.name)) errs.push(duplicate(`${p}.name`, port.name));
      else names.add(port.name);
    }
    const cp = optInt(errs, `${p}.containerPort`, port.containerPort);
    if (!cp) {
      if (cp === 0 || port.containerPort === undefined) errs.push(required(`${p}.containerPort`));
    } else errs.push(...invalidEach(`${p}.containerPort`, cp, isValidPortNum(cp)));
    const hp = optInt(errs, `${p}.hostPort`, port.hostPort);
    if (hp) errs.push(...invalidEach(`${p}.hostPort`, hp, isValidPortNum(hp)));
    enumField(errs, `${p}.protocol`, port.protocol, PROTOCOLS);
  });
}

function validateEnv(errs: FieldError[], env: unknown, path: string): void {
  list(env).forEach((e, i) => {
    const p = `${path}[${i}]`;
    if (!isObj(e) || !e.name) return void errs.push(required(`${p}.name`));
    // RelaxedEnvironmentVariableValidation (on by default since 1.32): printable ASCII, no '='.
    if (!/^[\x20-\x7e]+$/.test(String(e.name)) || String(e.name).includes('=')) {
      errs.push(invalid(`${p}.name`, e.name, "a valid environment variable name must consist only of printable ASCII characters other than '='"));
    }
    const from = e.valueFrom;
    if (from === undefined || from === null) return;
    const vp = `${p}.valueFrom`;
    const sources = ['fieldRef', 'resourceFieldRef', 'configMapKeyRef', 'secretKeyRef'].filter((k) => isObj(from?.[k]));
    if (sources.length === 0) errs.push(invalid(vp, '', 'must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`'));
    else if (e.value) errs.push(invalid(vp, '', 'may not be specified when `value` is not empty'));
    else if (sources.length > 1) errs.push(invalid(vp, '', 'may not have more than one field specified at a time'));
    const f = from.fieldRef;
    if (isObj(f)) {
      if (!f.apiVersion) errs.push(required(`${vp}.fieldRef.apiVersion`));
      else if (!f.fieldPath) errs.push(required(`${vp}.fieldRef.fieldPath`));
      else if (!/^metadata\.(labels|annotations)\['.+'\]$/.test(f.fieldPath) && !ENV_FIELD_PATHS.includes(f.fieldPath)) {
        errs.push(notSupported(`${vp}.fieldRef.fieldPath`, f.fieldPath, ENV_FIELD_PATHS));
      }
    }
    if (isObj(from.resourceFieldRef) && !from.resourceFieldRef.resource) errs.push(required(`${vp}.resourceFieldRef.resource`));
    for (const k of ['configMapKeyRef', 'secretKeyRef']) if (isObj(from[k]) && !from[k].key) errs.push(required(`${vp}.${k}.key`));
  });
}

function validateHandler(errs: FieldError[], h: Obj, path: string, kinds: string[]): void {
  let n = 0;
  for (const kind of kinds) {
    const a = h[kind];
    if (!isObj(a)) continue;
    if (n++ > 0) {
      errs.push(forbidden(`${path}.${kind}`, 'may not specify more than 1 handler type'));
      continue;
    }
    const p = `${path}.${kind}`;
    if (kind === 'exec' && list(a.command).length === 0) errs.push(required(`${p}.command`));
    if (kind === 'httpGet') {
      if (!a.path) errs.push(required(`${p}.path`));
      validatePortNumOrName(errs, `${p}.port`, a.port);
      if (!['HTTP', 'HTTPS'].includes(a.scheme)) errs.push(notSupported(`${p}.scheme`, a.scheme ?? '', ['HTTP', 'HTTPS']));
    }
    if (kind === 'tcpSocket') validatePortNumOrName(errs, `${p}.port`, a.port);
    if (kind === 'grpc') validatePortNumOrName(errs, `${p}.port`, typeof a.port === 'number' ? a.port : undefined);
  }
  if (n === 0) errs.push(required(path, 'must specify a handler type'));
}

function validateProbe(errs: FieldError[], probe: unknown, path: string, which: 'liveness' | 'readiness' | 'startup'): void {
  if (probe === undefined || probe === null) return;
  if (!isObj(probe)) return void errs.push(required(path, 'must specify a handler type'));
  validateHandler(errs, probe, path, ['exec', 'httpGet', 'tcpSocket', 'grpc']);
  for (const f of ['initialDelaySeconds', 'timeoutSeconds', 'periodSeconds', 'successThreshold', 'failureThreshold']) nonNegative(errs, `${path}.${f}`, probe[f]);
  if (which !== 'readiness' && probe.successThreshold !== undefined && probe.successThreshold !== 1) errs.push(invalid(`${path}.successThreshold`, probe.successThreshold, 'must be 1'));
  if (which === 'readiness' && probe.terminationGracePeriodSeconds != null) errs.push(invalid(`${path}.terminationGracePeriodSeconds`, probe.terminationGracePeriodSeconds, 'must not be set for readinessProbes'));
}

/** validateContainerCommon: the checks every container kind shares. */
function validateContainer(errs: FieldError[], c: Obj, path: string, volumes: Set<string>): void {
  if (!c.name) errs.push(required(`${path}.name`));
  else errs.push(...invalidEach(`${path}.name`, c.name, isDNS1123Label(String(c.name))));
  if (!c.image) errs.push(required(`${path}.image`));
  enumField(errs, `${path}.terminationMessagePolicy`, c.terminationMessagePolicy, ['File', 'FallbackToLogsOnError']);
  validateContainerPorts(errs, c.ports, `${path}.ports`);
  validateEnv(errs, c.env, `${path}.env`);
  const mountPaths = new Set<string>();
  list(c.volumeMounts).forEach((m, i) => {
    const p = `${path}.volumeMounts[${i}]`;
    const mount = isObj(m) ? m : {};
    if (!mount.name) errs.push(required(`${p}.name`));
    if (!volumes.has(mount.name)) errs.push(notFound(`${p}.name`, mount.name ?? ''));
    if (!mount.mountPath) errs.push(required(`${p}.mountPath`));
    if (mountPaths.has(mount.mountPath)) errs.push(invalid(`${p}.mountPath`, mount.mountPath, 'must be unique'));
    mountPaths.add(mount.mountPath);
  });
  enumField(errs, `${path}.imagePullPolicy`, c.imagePullPolicy, ['Always', 'IfNotPresent', 'Never']);
  validateResources(errs, c.resources, `${path}.resources`);
}

function hostPortConflicts(errs: FieldError[], containers: Obj[], path: string, indexes: number[]): void {
  const seen = new Set<string>();
  containers.forEach((c, n) => list(c.ports).forEach((p, j) => {
    if (!isObj(p) || !p.hostPort) return;
    const key = `${p.protocol ?? ''}/${p.hostIP ?? ''}/${p.hostPort}`;
    if (seen.has(key)) errs.push(duplicate(`${path}[${indexes[n]}].ports[${j}].hostPort`, key));
    seen.add(key);
  }));
}

/**
 * ValidatePodSpec: everything under `spec` of a Pod or a pod template. With `isPod`
 * (not a template) hostNetwork ports must already equal the container ports.
 */
export function validatePodSpec(spec: unknown, path: string, opts: { isPod: boolean }): FieldError[] {
  const errs: FieldError[] = [];
  const s = isObj(spec) ? spec : {};
  if (s.terminationGracePeriodSeconds === undefined || s.terminationGracePeriodSeconds === null) errs.push(required(`${path}.terminationGracePeriodSeconds`));
  else optInt(errs, `${path}.terminationGracePeriodSeconds`, s.terminationGracePeriodSeconds);
  const volumes = validateVolumes(errs, s.volumes, `${path}.volumes`);
  const containers = list(s.containers);
  const names = new Set<string>();
  if (containers.length === 0) errs.push(required(`${path}.containers`));
  containers.forEach((c, i) => {
    const p = `${path}.containers[${i}]`;
    const ctr = isObj(c) ? c : {};
    validateContainer(errs, ctr, p, volumes);
    if (names.has(ctr.name)) errs.push(duplicate(`${p}.name`, ctr.name));
    else names.add(ctr.name);
    if (isObj(ctr.lifecycle)) {
      for (const hook of ['postStart', 'preStop']) if (isObj(ctr.lifecycle[hook])) validateHandler(errs, ctr.lifecycle[hook], `${p}.lifecycle.${hook}`, ['exec', 'httpGet', 'tcpSocket', 'sleep']);
    }
    validateProbe(errs, ctr.livenessProbe, `${p}.livenessProbe`, 'liveness');
    validateProbe(errs, ctr.readinessProbe, `${p}.readinessProbe`, 'readiness');
    validateProbe(errs, ctr.startupProbe, `${p}.startupProbe`, 'startup');
    if (ctr.restartPolicy != null) errs.push(forbidden(`${p}.restartPolicy`, 'may not be set for non-init containers'));
  });
  hostPortConflicts(errs, containers.filter(isObj), `${path}.containers`, containers.flatMap((c, i) => (isObj(c) ? [i] : [])));
  list(s.initContainers).forEach((c, i) => {
    const p = `${path}.initContainers[${i}]`;
    const ctr = isObj(c) ? c : {};
    validateContainer(errs, ctr, p, volumes);
    const sidecar = ctr.restartPolicy === 'Always';
    if (ctr.restartPolicy != null && !sidecar) errs.push(notSupported(`${p}.restartPolicy`, ctr.restartPolicy, ['Always']));
    // Names are unique across regular and init containers.
    if (names.has(ctr.name)) errs.push(duplicate(`${p}.name`, ctr.name));
    else if (ctr.name) names.add(ctr.name);
    hostPortConflicts(errs, [ctr], `${path}.initContainers`, [i]);
    for (const [f, which] of [['livenessProbe', 'liveness'], ['readinessProbe', 'readiness'], ['startupProbe', 'startup']] as const) {
      if (ctr[f] == null) continue;
      if (sidecar) validateProbe(errs, ctr[f], `${p}.${f}`, which);
      else errs.push(forbidden(`${p}.${f}`, 'may not be set for init containers without restartPolicy=Always'));
    }
    if (ctr.lifecycle != null && !sidecar) errs.push(forbidden(`${p}.lifecycle`, 'may not be set for init containers without restartPolicy=Always'));
  });
  if (s.hostNetwork === true) {
    containers.forEach((c, i) => list(isObj(c) ? c.ports : []).forEach((port, j) => {
      if (isObj(port) && (opts.isPod || port.hostPort) && port.hostPort !== port.containerPort) {
        errs.push(invalid(`${path}.containers[${i}].ports[${j}].hostPort`, port.hostPort ?? 0, 'must match `containerPort` when `hostNetwork` is true'));
      }
    }));
  }
  enumField(errs, `${path}.restartPolicy`, s.restartPolicy, ['Always', 'OnFailure', 'Never']);
  enumField(errs, `${path}.dnsPolicy`, s.dnsPolicy, ['ClusterFirstWithHostNet', 'ClusterFirst', 'Default', 'None']);
  validateLabels(errs, `${path}.nodeSelector`, s.nodeSelector);
  if (s.dnsPolicy === 'None' && !isObj(s.dnsConfig)) errs.push(required(`${path}.dnsConfig`, 'must provide `dnsConfig` when `dnsPolicy` is None'));
  else if (s.dnsPolicy === 'None' && list(s.dnsConfig.nameservers).length === 0) errs.push(required(`${path}.dnsConfig.nameservers`, 'must provide at least one DNS nameserver when `dnsPolicy` is None'));
  for (const f of ['serviceAccountName', 'nodeName', 'priorityClassName']) if (s[f]) errs.push(...invalidEach(`${path}.${f}`, s[f], nameIsDNSSubdomain(String(s[f]), false)));
  const ads = optInt(errs, `${path}.activeDeadlineSeconds`, s.activeDeadlineSeconds);
  if (ads !== undefined && (ads < 1 || ads > MAX_INT32)) errs.push(invalid(`${path}.activeDeadlineSeconds`, ads, `must be between 1 and ${MAX_INT32}, inclusive`));
  for (const f of ['hostname', 'subdomain']) if (s[f]) errs.push(...invalidEach(`${path}.${f}`, s[f], isDNS1123Label(String(s[f]))));
  validateTolerations(errs, s.tolerations, `${path}.tolerations`);
  return errs;
}

export function validateTolerations(errs: FieldError[], tolerations: unknown, path: string): void {
  list(tolerations).forEach((t, i) => {
    const p = `${path}[${i}]`;
    const tol = isObj(t) ? t : {};
    if (tol.key) errs.push(...invalidEach(`${p}.key`, tol.key, isQualifiedName(String(tol.key))));
    if (!tol.key && tol.operator !== 'Exists') errs.push(invalid(`${p}.operator`, tol.operator ?? '', 'operator must be Exists when `key` is empty, which means "match all values and all keys"'));
    if (tol.tolerationSeconds != null && tol.effect !== 'NoExecute') errs.push(invalid(`${p}.effect`, tol.effect ?? '', "effect must be 'NoExecute' when `tolerationSeconds` is set"));
    if (!tol.operator || tol.operator === 'Equal') {
      const msgs = isLabelValue(String(tol.value ?? ''));
      if (msgs.length) errs.push(invalid(`${p}.operator`, tol.value, msgs.join(';')));
    } else if (tol.operator === 'Exists') {
      if (tol.value) errs.push(invalid(`${p}.operator`, tol.value, "value must be empty when `operator` is 'Exists'"));
    } else errs.push(notSupported(`${p}.operator`, tol.operator, ['Equal', 'Exists']));
    if (tol.effect && !['NoSchedule', 'PreferNoSchedule', 'NoExecute'].includes(tol.effect)) errs.push(notSupported(`${p}.effect`, tol.effect, ['NoSchedule', 'PreferNoSchedule', 'NoExecute']));
  });
}

/** ValidatePodTemplateSpec: template labels are reported at `<path>.labels`, as Kubernetes does. */
export function validatePodTemplate(template: unknown, path: string): FieldError[] {
  const t = isObj(template) ? template : {};
  const errs: FieldError[] = [];
  validateLabels(errs, `${path}.labels`, t.metadata?.labels);
  validateAnnotations(errs, `${path}.annotations`, t.metadata?.annotations);
  errs.push(...validatePodSpec(t.spec, `${path}.spec`, { isPod: false }));
  if (list(t.spec?.ephemeralContainers).length) errs.push(forbidden(`${path}.spec.ephemeralContainers`, 'ephemeral containers not allowed in pod template'));
  return errs;
}

/** A bare Pod on create. */
export function validatePod(pod: Obj, create = true): FieldError[] {
  const errs = validateObjectMeta(pod.metadata, true, nameIsDNSSubdomain);
  errs.push(...validatePodSpec(pod.spec, 'spec', { isPod: true }));
  for (const kind of ['containers', 'initContainers']) {
    list(pod.spec?.[kind]).forEach((c, i) => {
      if (isObj(c) && typeof c.image === 'string' && c.image !== c.image.trim()) errs.push(invalid(`spec.${kind}[${i}].image`, c.image, 'must not have leading or trailing whitespace'));
    });
  }
  if (create && list(pod.spec?.ephemeralContainers).length) errs.push(forbidden('spec.ephemeralContainers', 'cannot be set on create'));
  return errs;
}

const UPDATABLE = ['`spec.containers[*].image`', '`spec.initContainers[*].image`', '`spec.activeDeadlineSeconds`', '`spec.tolerations` (only additions to existing tolerations)',
  '`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)'].join(',');

/** Changed leaves between two JSON values, `-`/`+` lines in the spirit of cmp.Diff. */
function diffLines(a: unknown, b: unknown, path: string, out: string[]): void {
  if (jsonEqual(a, b) || out.length >= 20) return;
  if (isObj(a) && isObj(b)) {
    for (const k of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) diffLines(a[k], b[k], path ? `${path}.${k}` : k, out);
  } else if (Array.isArray(a) && Array.isArray(b) && a.length === b.length) {
    a.forEach((x, i) => diffLines(x, b[i], `${path}[${i}]`, out));
  } else {
    out.push(`-   ${path}: ${goJson(a)}`, `+   ${path}: ${goJson(b)}`);
  }
}

/** ValidatePodUpdate: the new Pod must be valid and differ from the old only where Pods may change. */
export function validatePodUpdate(pod: Obj, old: Obj): FieldError[] {
  const errs = validateObjectMetaUpdate(pod.metadata, old.metadata);
  errs.push(...validatePod(pod, false));
  const spec = isObj(pod.spec) ? pod.spec : {};
  // Stored objects are defaulted on read in Kubernetes; compare like with like, so a
  // default that was added after the old object was written is not a user's change.
  const prev = structuredClone(old);
  applyDefaults('Pod', prev);
  const oldSpec: Obj = isObj(prev.spec) ? prev.spec : {};
  for (const kind of ['containers', 'initContainers']) {
    const now = list(spec[kind]);
    if (now.length !== list(oldSpec[kind]).length) return [...errs, forbidden(`spec.${kind}`, 'pod updates may not add or remove containers')];
  }
  const ads = spec.activeDeadlineSeconds;
  if (typeof ads === 'number') {
    if (ads < 0 || ads > MAX_INT32) return [...errs, invalid('spec.activeDeadlineSeconds', ads, `must be between 0 and ${MAX_INT32}, inclusive`)];
    if (typeof oldSpec.activeDeadlineSeconds === 'number' && oldSpec.activeDeadlineSeconds < ads) return [...errs, invalid('spec.activeDeadlineSeconds', ads, 'must be less than or equal to previous value')];
  } else if (oldSpec.activeDeadlineSeconds != null) {
    errs.push(invalid('spec.activeDeadlineSeconds', null, 'must not update from a positive integer to nil value'));
  }
  // Existing tolerations may only gain a different tolerationSeconds; new ones may be added.
  for (const t of list(oldSpec.tolerations)) {
    if (!list(spec.tolerations).some((n) => isObj(n) && isObj(t) && jsonEqual({ ...t, tolerationSeconds: n.tolerationSeconds }, n))) {
      errs.push(forbidden('spec.tolerations', 'existing toleration can not be modified except its tolerationSeconds'));
      break;
    }
  }
  if (jsonEqual(spec, oldSpec)) return errs;
  const munged: Obj = structuredClone(spec);
  for (const kind of ['containers', 'initContainers']) {
    list(munged[kind]).forEach((c, i) => {
      if (isObj(c)) c.image = oldSpec[kind][i]?.image;
    });
  }
  munged.activeDeadlineSeconds = oldSpec.activeDeadlineSeconds;
  munged.tolerations = oldSpec.tolerations;
  munged.schedulingGates = oldSpec.schedulingGates;
  if (typeof oldSpec.terminationGracePeriodSeconds === 'number' && oldSpec.terminationGracePeriodSeconds < 0 && munged.terminationGracePeriodSeconds === 1) {
    munged.terminationGracePeriodSeconds = oldSpec.terminationGracePeriodSeconds;
  }
  if (!jsonEqual(munged, oldSpec)) {
    const lines: string[] = [];
    diffLines(oldSpec, munged, '', lines);
    errs.push(forbidden('spec', `pod updates may not change fields other than ${UPDATABLE}\n  core.PodSpec{\n${lines.join('\n')}\n  }`));
  }
  return errs;
}
