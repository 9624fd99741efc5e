/**
 * Printers for services, endpoints and endpoint slices, as kube-apiserver's
 * printers produce them with `Wide: true`.
 */

import { ageColumn, col, formatLabels, listWithMore, nameColumn, since, type Obj, type Printer } from './format.js';

/** The LoadBalancer ingress addresses, deduplicated and sorted (sets.String.List()). */
function loadBalancerIngress(svc: Obj): string[] {
  const ingress: Obj[] = Array.isArray(svc.status?.loadBalancer?.ingress) ? svc.status.loadBalancer.ingress : [];
  const set = new Set<string>();
  for (const i of ingress) {
    if (i?.ip) set.add(i.ip);
    else if (i?.hostname) set.add(i.hostname);
  }
  return [...set].sort();
}

/** getServiceExternalIP with wide=true (the server never clips the load-balancer list). */
function externalIP(svc: Obj): string {
  const externalIPs: string[] = Array.isArray(svc.spec?.externalIPs) ? svc.spec.externalIPs : [];
  switch (svc.spec?.type ?? 'ClusterIP') {
    case 'ClusterIP':
    case 'NodePort':
      return externalIPs.length > 0 ? externalIPs.join(',') : '<none>';
    case 'LoadBalancer': {
      const lb = loadBalancerIngress(svc);
      if (externalIPs.length > 0) return [...lb, ...externalIPs].join(',');
      return lb.length > 0 ? lb.join(',') : '<pending>';
    }
    case 'ExternalName':
      return svc.spec?.externalName ?? '';
    default:
      return '<unknown>';
  }
}

/** makePortString: `80/TCP`, `80:30080/TCP`, comma-joined. */
function portString(ports: unknown): string {
  const list: Obj[] = Array.isArray(ports) ? ports : [];
  return list
    .map((p) => {
      const protocol = p?.protocol || 'TCP';
      return p?.nodePort > 0 ? `${p.port}:${p.nodePort}/${protocol}` : `${p?.port}/${protocol}`;
    })
    .join(',');
}

export const servicePrinter: Printer = {
  columns: [
    nameColumn(),
    col('Type', 'string', 'type determines how the Service is exposed. Defaults to ClusterIP. Valid options are ExternalName, ClusterIP, NodePort, and LoadBalancer.'),
    col('Cluster-IP', 'string', 'clusterIP is the IP address of the service and is usually assigned randomly.'),
    col('External-IP', 'string', 'externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this service.'),
    col('Port(s)', 'string', 'The list of ports that are exposed by this service.'),
    ageColumn(),
    col('Selector', 'string', 'Route service traffic to pods with label keys and values matching this selector.', 1),
  ],
  row(svc, now) {
    const clusterIPs: string[] = Array.isArray(svc.spec?.clusterIPs) ? svc.spec.clusterIPs : [];
    const ports = portString(svc.spec?.ports);
    return {
      cells: [
        svc.metadata?.name ?? '',
        svc.spec?.type ?? 'ClusterIP',
        clusterIPs[0] || svc.spec?.clusterIP || '<none>',
        externalIP(svc),
        ports === '' ? '<none>' : ports,
        since(svc.metadata?.creationTimestamp, now),
        formatLabels(svc.spec?.selector),
      ],
    };
  },
};

/** net.JoinHostPort: IPv6 addresses get brackets. */
const hostPort = (ip: string, port: unknown): string => (ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`);

/** formatEndpoints with all ports: at most three `ip:port`, then `+ N more...`. */
export function formatEndpoints(ep: Obj): string {
  const subsets: Obj[] = Array.isArray(ep.subsets) ? ep.subsets : [];
  if (subsets.length === 0) return '<none>';
  const max = 3;
  const list: string[] = [];
  let count = 0;
  for (const ss of subsets) {
    const addresses: Obj[] = Array.isArray(ss?.addresses) ? ss.addresses : [];
    const ports: Obj[] = Array.isArray(ss?.ports) ? ss.ports : [];
    if (ports.length === 0) {
      // Headless services without ports list bare IPs.
      count += addresses.length;
      for (const a of addresses) if (list.length < max) list.push(a?.ip ?? '');
      continue;
    }
    for (const p of ports) {
      count += addresses.length;
      for (const a of addresses) if (list.length < max) list.push(hostPort(a?.ip ?? '', p?.port));
    }
  }
  return listWithMore(list, count, max, '');
}

export const endpointsPrinter: Printer = {
  columns: [
    nameColumn(),
    col('Endpoints', 'string', 'The set of all endpoints is the union of all subsets.'),
    ageColumn(),
  ],
  row: (ep, now) => ({ cells: [ep.metadata?.name ?? '', formatEndpoints(ep), since(ep.metadata?.creationTimestamp, now)] }),
};

function discoveryPorts(ports: unknown): string {
  const list: Obj[] = Array.isArray(ports) ? ports : [];
  const shown = list.slice(0, 3).map((p) => (p?.port != null ? String(p.port) : p?.name != null ? String(p.name) : '*'));
  return listWithMore(shown, list.length, 3, '<unset>');
}

function discoveryEndpoints(endpoints: unknown): string {
  const addresses = (Array.isArray(endpoints) ? (endpoints as Obj[]) : []).flatMap((e) => (Array.isArray(e?.addresses) ? (e.addresses as string[]) : []));
  return listWithMore(addresses.slice(0, 3), addresses.length, 3, '<unset>');
}

export const endpointSlicePrinter: Printer = {
  columns: [
    nameColumn(),
    col('AddressType', 'string', 'addressType specifies the type of address carried by this EndpointSlice.'),
    col('Ports', 'string', 'ports specifies the list of network ports exposed by each endpoint in this slice.'),
    col('Endpoints', 'string', 'endpoints is a list of unique endpoints in this slice.'),
    ageColumn(),
  ],
  row: (s, now) => ({
    cells: [
      s.metadata?.name ?? '',
      s.addressType ?? '',
      discoveryPorts(s.ports),
      discoveryEndpoints(s.endpoints),
      since(s.metadata?.creationTimestamp, now),
    ],
  }),
};
