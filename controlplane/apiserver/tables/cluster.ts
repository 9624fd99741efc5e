/**
 * Printers for nodes, namespaces, events, config maps, secrets, service
 * accounts and leases, as kube-apiserver's printers produce them with
 * `Wide: true`.
 */

import { ageColumn, col, nameColumn, parseTime, since, humanDuration, NAME_DESCRIPTION, type Obj, type Printer } from './format.js';

const ROLE_PREFIX = 'node-role.kubernetes.io/';
const ROLE_LABEL = 'kubernetes.io/role';

/** findNodeRoles: `node-role.kubernetes.io/<role>` keys and `kubernetes.io/role=<role>` values, sorted and unique. */
function nodeRoles(node: Obj): string {
  const roles = new Set<string>();
  for (const [k, v] of Object.entries((node.metadata?.labels ?? {}) as Record<string, string>)) {
    if (k.startsWith(ROLE_PREFIX) && k.length > ROLE_PREFIX.length) roles.add(k.slice(ROLE_PREFIX.length));
    else if (k === ROLE_LABEL && v) roles.add(v);
  }
  return roles.size === 0 ? '<none>' : [...roles].sort().join(',');
}

/** Only the Ready condition is shown: `Ready`, `NotReady` (False or Unknown), `Unknown` when absent. */
function nodeStatus(node: Obj): string {
  const conditions: Obj[] = Array.isArray(node.status?.conditions) ? node.status.conditions : [];
  const ready = conditions.find((c) => c?.type === 'Ready');
  const status = [ready ? (ready.status === 'True' ? 'Ready' : 'NotReady') : 'Unknown'];
  if (node.spec?.unschedulable) status.push('SchedulingDisabled');
  return status.join(',');
}

const nodeAddress = (node: Obj, type: string): string =>
  (Array.isArray(node.status?.addresses) ? (node.status.addresses as Obj[]) : []).find((a) => a?.type === type)?.address ?? '<none>';

export const nodePrinter: Printer = {
  columns: [
    nameColumn(),
    col('Status', 'string', 'The status of the node'),
    col('Roles', 'string', 'The roles of the node'),
    ageColumn(),
    col('Version', 'string', 'Deprecated: KubeletVersion reported by the node.'),
    col('Internal-IP', 'string', 'List of addresses reachable to the node.', 1),
    col('External-IP', 'string', 'List of addresses reachable to the node.', 1),
    col('OS-Image', 'string', 'OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).', 1),
    col('Kernel-Version', 'string', "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64).", 1),
    col('Container-Runtime', 'string', 'ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2).', 1),
  ],
  row(node, now) {
    const info: Obj = node.status?.nodeInfo ?? {};
    return {
      cells: [
        node.metadata?.name ?? '',
        nodeStatus(node),
        nodeRoles(node),
        since(node.metadata?.creationTimestamp, now),
        info.kubeletVersion ?? '',
        nodeAddress(node, 'InternalIP'),
        nodeAddress(node, 'ExternalIP'),
        info.osImage || '<unknown>',
        info.kernelVersion || '<unknown>',
        info.containerRuntimeVersion || '<unknown>',
      ],
    };
  },
};

export const namespacePrinter: Printer = {
  columns: [nameColumn(), col('Status', 'string', 'The status of the namespace'), ageColumn()],
  row: (ns, now) => ({
    // The apiserver sets the phase (Active, Terminating once deleted); fall back the same way if it is missing.
    cells: [ns.metadata?.name ?? '', ns.status?.phase || (ns.metadata?.deletionTimestamp ? 'Terminating' : 'Active'), since(ns.metadata?.creationTimestamp, now)],
  }),
};

const keyCount = (...maps: unknown[]): number => {
  const keys = new Set<string>();
  for (const m of maps) if (m && typeof m === 'object') for (const k of Object.keys(m)) keys.add(k);
  return keys.size;
};

export const configMapPrinter: Printer = {
  columns: [nameColumn(), col('Data', 'string', 'Data contains the configuration data.'), ageColumn()],
  row: (cm, now) => ({ cells: [cm.metadata?.name ?? '', keyCount(cm.data) + keyCount(cm.binaryData), since(cm.metadata?.creationTimestamp, now)] }),
};

export const secretPrinter: Printer = {
  columns: [
    nameColumn(),
    col('Type', 'string', 'Used to facilitate programmatic handling of secret data.'),
    col('Data', 'string', 'Data contains the secret data.'),
    ageColumn(),
  ],
  // stringData is merged into data on write; counting the union keeps un-merged input right too.
  row: (s, now) => ({ cells: [s.metadata?.name ?? '', s.type || 'Opaque', keyCount(s.data, s.stringData), since(s.metadata?.creationTimestamp, now)] }),
};

export const serviceAccountPrinter: Printer = {
  columns: [nameColumn(), col('Secrets', 'string', 'Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are allowed to use.'), ageColumn()],
  row: (sa, now) => ({ cells: [sa.metadata?.name ?? '', Array.isArray(sa.secrets) ? sa.secrets.length : 0, since(sa.metadata?.creationTimestamp, now)] }),
};

export const leasePrinter: Printer = {
  columns: [nameColumn(), col('Holder', 'string', 'holderIdentity contains the identity of the holder of a current lease.'), ageColumn()],
  row: (l, now) => ({ cells: [l.metadata?.name ?? '', l.spec?.holderIdentity ?? '', since(l.metadata?.creationTimestamp, now)] }),
};

/** formatEventSource: component (or reportingController), then `, host` (or reportingInstance) when set. */
function eventSource(ev: Obj): string {
  const component = ev.source?.component || ev.reportingComponent || '';
  const host = ev.source?.host || ev.reportingInstance || '';
  return host ? `${component}, ${host}` : component;
}

export const eventPrinter: Printer = {
  columns: [
    col('Last Seen', 'string', 'The time at which the most recent occurrence of this event was recorded.'),
    col('Type', 'string', 'Type of this event (Normal, Warning), new types could be added in the future'),
    col('Reason', 'string', "This should be a short, machine understandable string that gives the reason for the transition into the object's current status."),
    col('Object', 'string', 'The object that this event is about.'),
    col('Subobject', 'string', 'If referring to a piece of an object instead of an entire object, this string should contain a valid JSON/Go field access statement, such as desiredState.manifest.containers[2].', 1),
    col('Source', 'string', 'The component reporting this event. Should be a short machine understandable string.', 1),
    col('Message', 'string', 'A human-readable description of the status of this operation.'),
    col('First Seen', 'string', 'The time at which the event was first recorded. (Time of server receipt is in TypeMeta.)', 1),
    col('Count', 'string', 'The number of times this event has occurred.', 1),
    col('Name', 'string', NAME_DESCRIPTION, 1, 'name'),
  ],
  row(ev, now) {
    const ago = (t: number | undefined): string => (t === undefined ? '<unknown>' : humanDuration(now.getTime() - t));
    const first = parseTime(ev.firstTimestamp) ?? parseTime(ev.eventTime);
    let last = ago(parseTime(ev.lastTimestamp) ?? first);
    let count = typeof ev.count === 'number' ? ev.count : 0;
    if (ev.series) {
      last = ago(parseTime(ev.series.lastObservedTime));
      count = typeof ev.series.count === 'number' ? ev.series.count : 0;
    } else if (count === 0) {
      // Singleton events of the events.k8s.io API carry no count.
      count = 1;
    }
    const kind = String(ev.involvedObject?.kind ?? '').toLowerCase();
    const target = ev.involvedObject?.name ? `${kind}/${ev.involvedObject.name}` : kind;
    return {
      cells: [
        last,
        ev.type ?? '',
        ev.reason ?? '',
        target,
        ev.involvedObject?.fieldPath ?? '',
        eventSource(ev),
        String(ev.message ?? '').trim(),
        ago(first),
        count,
        ev.metadata?.name ?? '',
      ],
    };
  },
};
