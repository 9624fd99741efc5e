/**
 * What a Service's endpoints should be, as pure functions shared by the
 * Endpoints and EndpointSlice controllers: which pods it selects, which of them
 * are ready, and the port each service port resolves to on each pod (a number,
 * or a named container port).
 */
import { isBeingDeleted, isPodReady, type Obj } from './objects.js';

export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';
export const MANAGED_BY_LABEL = 'endpointslice.kubernetes.io/managed-by';
export const MANAGED_BY = 'endpointslice-controller.k8s.io';
export const HEADLESS_LABEL = 'service.kubernetes.io/headless';
/** Endpoints per EndpointSlice, as the controller's default --max-endpoints-per-slice. */
export const MAX_PER_SLICE = 100;

/** Services the endpoint controllers manage: with a non-empty selector and not ExternalName. */
export function isManaged(svc: Obj): boolean {
  const sel = svc.spec?.selector;
  return svc.spec?.type !== 'ExternalName' && !!sel && typeof sel === 'object' && Object.keys(sel).length > 0;
}

/** Whether a Service's (map) selector selects these labels. */
export function serviceSelects(svc: Obj, labels: Record<string, string> | undefined): boolean {
  if (!isManaged(svc)) return false;
  const l = labels ?? {};
  return Object.entries(svc.spec.selector as Record<string, string>).every(([k, v]) => l[k] === v);
}

/**
 * ShouldPodBeInEndpoints: the pod has an IP; it is not terminating (unless
 * `includeTerminating`); and it may still run (restartPolicy Never/OnFailure pods
 * that finished do not).
 */
export function podBelongs(pod: Obj, includeTerminating: boolean): boolean {
  if (!pod.status?.podIP && !(pod.status?.podIPs ?? []).length) return false;
  if (!includeTerminating && isBeingDeleted(pod)) return false;
  const phase = pod.status?.phase;
  const restart = pod.spec?.restartPolicy ?? 'Always';
  if (restart === 'Never') return phase !== 'Failed' && phase !== 'Succeeded';
  if (restart === 'OnFailure') return phase !== 'Succeeded';
  return true;
}

export interface EndpointPort {
  name?: string;
  port: number;
  protocol: string;
}

/** The pod port a service port's targetPort means (FindPort); undefined when the pod has no such named port. */
export function findPort(pod: Obj, svcPort: Obj): number | undefined {
  const target = svcPort.targetPort ?? svcPort.port;
  const protocol = svcPort.protocol ?? 'TCP';
  if (typeof target === 'number') return target;
  if (typeof target === 'string' && /^\d+$/.test(target)) return Number(target);
  for (const c of pod.spec?.containers ?? []) {
    for (const p of c.ports ?? []) if (p.name === target && (p.protocol ?? 'TCP') === protocol) return p.containerPort;
  }
  return undefined;
}

/** The service's ports as resolved on `pod`, in service order; ports that do not resolve are left out. */
export function podPorts(svc: Obj, pod: Obj): EndpointPort[] {
  const out: EndpointPort[] = [];
  for (const sp of svc.spec?.ports ?? []) {
    const port = findPort(pod, sp);
    if (port === undefined) continue;
    const e: EndpointPort = { port, protocol: sp.protocol ?? 'TCP' };
    if (sp.name) e.name = sp.name;
    out.push(e);
  }
  return out;
}

const portsKey = (ports: EndpointPort[]): string => JSON.stringify([...ports].sort((a, b) => (a.name ?? '').localeCompare(b.name ?? '') || a.port - b.port));

function podIP(pod: Obj): string {
  return pod.status?.podIP || pod.status?.podIPs?.[0]?.ip;
}

function targetRef(pod: Obj): Obj {
  return { kind: 'Pod', namespace: pod.metadata.namespace, name: pod.metadata.name, uid: pod.metadata.uid };
}

const byIP = (a: Obj, b: Obj): number => String(a.ip).localeCompare(String(b.ip), undefined, { numeric: true });

/**
 * The v1 Endpoints subsets for `svc` over the namespace's `pods`: selected pods
 * that belong, ready ones in `addresses` (all of them with
 * publishNotReadyAddresses), others in `notReadyAddresses`, grouped into one
 * subset per distinct resolved port set (RepackSubsets), sorted.
 */
export function endpointSubsets(svc: Obj, pods: Obj[]): Obj[] {
  const publishAll = svc.spec?.publishNotReadyAddresses === true;
  const headless = svc.spec?.clusterIP === 'None';
  const groups = new Map<string, { ports: EndpointPort[]; ready: Obj[]; notReady: Obj[] }>();
  for (const pod of pods) {
    if (!serviceSelects(svc, pod.metadata?.labels) || !podBelongs(pod, publishAll)) continue;
    const ports = podPorts(svc, pod);
    if (ports.length === 0 && !(headless && (svc.spec?.ports ?? []).length === 0)) continue;
    const addr: Obj = { ip: podIP(pod), targetRef: targetRef(pod) };
    if (pod.spec?.nodeName) addr.nodeName = pod.spec.nodeName;
    if (pod.spec?.hostname && pod.spec?.subdomain === svc.metadata.name) addr.hostname = pod.spec.hostname;
    const key = portsKey(ports);
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { ports, ready: [], notReady: [] }));
    (publishAll || isPodReady(pod) ? g.ready : g.notReady).push(addr);
  }
  return [...groups.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([, g]) => {
      const s: Obj = {};
      if (g.ready.length) s.addresses = g.ready.sort(byIP);
      if (g.notReady.length) s.notReadyAddresses = g.notReady.sort(byIP);
      if (g.ports.length) s.ports = g.ports;
      return s;
    });
}

export interface DesiredSlice {
  ports: EndpointPort[];
  endpoints: Obj[];
}

/**
 * The EndpointSlices `svc` should have: terminating pods included (with
 * terminating=true), conditions ready (serving and not terminating), serving
 * (the pod is ready) and terminating; one slice per distinct port set, split at
 * MAX_PER_SLICE. No endpoints at all gives [] (the caller keeps a placeholder).
 */
export function desiredSlices(svc: Obj, pods: Obj[], maxPerSlice = MAX_PER_SLICE): DesiredSlice[] {
  const publishAll = svc.spec?.publishNotReadyAddresses === true;
  const groups = new Map<string, DesiredSlice>();
  for (const pod of pods) {
    if (!serviceSelects(svc, pod.metadata?.labels) || !podBelongs(pod, true)) continue;
    const ports = podPorts(svc, pod);
    if (ports.length === 0 && (svc.spec?.ports ?? []).length > 0) continue;
    const terminating = isBeingDeleted(pod);
    const serving = publishAll || isPodReady(pod);
    const ep: Obj = {
      addresses: [podIP(pod)],
      conditions: { ready: serving && (!terminating || publishAll), serving, terminating },
      targetRef: targetRef(pod),
    };
    if (pod.spec?.nodeName) ep.nodeName = pod.spec.nodeName;
    if (pod.spec?.hostname && pod.spec?.subdomain === svc.metadata.name) ep.hostname = pod.spec.hostname;
    const key = portsKey(ports);
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { ports: ports.map((p) => ({ name: p.name ?? '', port: p.port, protocol: p.protocol })), endpoints: [] }));
    g.endpoints.push(ep);
  }
  const out: DesiredSlice[] = [];
  for (const [, g] of [...groups.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    const eps = g.endpoints.sort((a, b) => String(a.addresses[0]).localeCompare(String(b.addresses[0]), undefined, { numeric: true }));
    for (let i = 0; i < eps.length; i += maxPerSlice) out.push({ ports: g.ports, endpoints: eps.slice(i, i + maxPerSlice) });
  }
  return out;
}

/** Labels of the Endpoints object: the service's, plus the headless marker. */
export function endpointsLabels(svc: Obj): Record<string, string> {
  const labels: Record<string, string> = { ...(svc.metadata?.labels ?? {}) };
  if (svc.spec?.clusterIP === 'None') labels[HEADLESS_LABEL] = '';
  else delete labels[HEADLESS_LABEL];
  return labels;
}

/** Labels of a managed EndpointSlice. */
export function sliceLabels(svc: Obj): Record<string, string> {
  return { ...endpointsLabels(svc), [SERVICE_NAME_LABEL]: svc.metadata.name, [MANAGED_BY_LABEL]: MANAGED_BY };
}
