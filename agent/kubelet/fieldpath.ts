/**
 * Downward API values, shared by environment variables (env.ts) and downwardAPI /
 * projected volumes (volumes.ts): `fieldRef` paths read from the pod and
 * `resourceFieldRef` selectors read from a container's resources, with the
 * kubelet's formatting (fieldpath.ExtractFieldPathAsString, FormatMap,
 * resource.ExtractContainerResourceValue). Pure functions.
 */
import { milliValue, parseQuantity, value as quantityValue, type Quantity } from '../../common/quantity.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Obj = Record<string, any>;

/** Node allocatable, used as the limit of containers that set none (as the kubelet's defaultPodLimitsForDownwardAPI). */
export type Allocatable = Partial<Record<'cpu' | 'memory' | 'ephemeral-storage', string>>;

/** Values of fieldRef paths that only the kubelet knows (not on the pod object it was given). */
export interface RuntimeFields {
  podIP?: string;
  podIPs?: string[];
  hostIP?: string;
  hostIPs?: string[];
}

/** Go's strconv.Quote for the strings we print (labels and annotations files). */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (ch === '"' || ch === '\\') out += `\\${ch}`;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\x07') out += '\\a';
    else if (ch === '\b') out += '\\b';
    else if (ch === '\f') out += '\\f';
    else if (ch === '\v') out += '\\v';
    else if (cp < 0x20 || cp === 0x7f) out += `\\x${cp.toString(16).padStart(2, '0')}`;
    else if (cp >= 0x80 && cp < 0xa0) out += `\\u${cp.toString(16).padStart(4, '0')}`;
    else out += ch;
  }
  return `${out}"`;
}

/** `key="value"` lines in key order, no trailing newline (apimachinery's FormatMap). */
export function formatMap(m: Record<string, string> | undefined): string {
  return Object.keys(m ?? {})
    .sort()
    .map((k) => `${k}=${goQuote(String(m![k]))}`)
    .join('\n');
}

/** Splits `metadata.labels['app']` into `metadata.labels` and `app`; plain paths have no subscript. */
export function splitSubscript(path: string): { path: string; subscript?: string } {
  const m = /^(.*)\['(.*)'\]$/.exec(path);
  return m ? { path: m[1], subscript: m[2] } : { path };
}

/**
 * The value of a fieldRef `fieldPath` for `pod`, as the kubelet computes it for env and
 * volumes. Throws `unsupported fieldPath: <path>` for anything else.
 */
export function podFieldValue(pod: Obj, fieldPath: string, rt: RuntimeFields = {}): string {
  const meta = pod.metadata ?? {};
  const podIPs = rt.podIPs?.length ? rt.podIPs : rt.podIP ? [rt.podIP] : [];
  const hostIPs = rt.hostIPs?.length ? rt.hostIPs : rt.hostIP ? [rt.hostIP] : [];
  switch (fieldPath) {
    case 'spec.nodeName':
      return pod.spec?.nodeName ?? '';
    case 'spec.serviceAccountName':
      return pod.spec?.serviceAccountName ?? '';
    case 'status.podIP':
      return podIPs[0] ?? '';
    case 'status.podIPs':
      return podIPs.join(',');
    case 'status.hostIP':
      return hostIPs[0] ?? '';
    case 'status.hostIPs':
      return hostIPs.join(',');
    case 'metadata.name':
      return meta.name ?? '';
    case 'metadata.namespace':
      return meta.namespace ?? '';
    case 'metadata.uid':
      return meta.uid ?? '';
    case 'metadata.labels':
      return formatMap(meta.labels);
    case 'metadata.annotations':
      return formatMap(meta.annotations);
  }
  const { path, subscript } = splitSubscript(fieldPath);
  if (subscript !== undefined && (path === 'metadata.labels' || path === 'metadata.annotations')) {
    const m = path === 'metadata.labels' ? meta.labels : meta.annotations;
    return m?.[subscript] ?? '';
  }
  throw new Error(`unsupported fieldPath: ${fieldPath}`);
}

const RESOURCE_FIELDS = new Set([
  'limits.cpu',
  'limits.memory',
  'limits.ephemeral-storage',
  'requests.cpu',
  'requests.memory',
  'requests.ephemeral-storage',
]);

/**
 * A resourceFieldRef's value for `container`: the quantity divided by `divisor` (default
 * 1), rounded up, printed as an integer. A limit the container does not set reads as the
 * node's allocatable, as the kubelet defaults limits for the downward API.
 */
export function containerResourceValue(
  selector: Obj,
  container: Obj,
  allocatable: Allocatable = {},
): string {
  const resource: string = selector.resource ?? '';
  if (!RESOURCE_FIELDS.has(resource)) throw new Error(`unsupported container resource : ${resource}`);
  const [kind, name] = resource.split('.') as ['limits' | 'requests', 'cpu' | 'memory' | 'ephemeral-storage'];
  let raw: unknown = container.resources?.[kind]?.[name];
  if (raw === undefined && kind === 'limits') raw = allocatable[name];
  const q: Quantity = parseQuantity(raw === undefined ? '0' : (raw as string));
  let divisor = parseQuantity(selector.divisor === undefined ? '1' : selector.divisor);
  if (divisor.nanos === 0n) divisor = parseQuantity('1');
  if (name === 'cpu') return String(Math.ceil(milliValue(q) / milliValue(divisor)));
  return String(Math.ceil(quantityValue(q) / quantityValue(divisor)));
}

/** The container named by a resourceFieldRef's `containerName` (default: `self`). */
export function resourceFieldContainer(pod: Obj, selector: Obj, self?: Obj): Obj {
  const name: string | undefined = selector.containerName || undefined;
  if (!name) {
    if (!self) throw new Error('resourceFieldRef needs a containerName here');
    return self;
  }
  const all: Obj[] = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])];
  const c = all.find((x) => x.name === name);
  if (!c) throw new Error(`container ${name} not found`);
  return c;
}
