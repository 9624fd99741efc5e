/**
 * A pod's /etc/hosts and hostname, as the kubelet writes them (managedHostsFileContent,
 * nodeHostsFileContent, GeneratePodHostNameAndDomain). Pure: the file is written by
 * VolumeManager.writeHostsFile.
 */
import type { Obj } from './fieldpath.js';

export interface HostAlias {
  ip: string;
  hostnames: string[];
}

const MAX_HOSTNAME = 63;

/** The pod's hostname (`spec.hostname` or its name cut to 63 characters) and domain when it has a subdomain. */
export function podHostname(pod: Obj, clusterDomain = 'cluster.local'): { hostname: string; domain?: string } {
  let hostname: string = pod.spec?.hostname || pod.metadata?.name || '';
  if (hostname.length > MAX_HOSTNAME) {
    // truncatePodHostnameIfNeeded: cut, then drop trailing '-' and '.' so the name stays valid.
    hostname = hostname.slice(0, MAX_HOSTNAME).replace(/[-.]+$/, '');
  }
  const sub: string | undefined = pod.spec?.subdomain || undefined;
  const domain = sub ? `${sub}.${pod.metadata?.namespace ?? 'default'}.svc.${clusterDomain}` : undefined;
  return { hostname, domain };
}

function aliasLines(aliases: HostAlias[] | undefined): string {
  if (!aliases?.length) return '';
  let s = '\n# Entries added by HostAliases.\n';
  for (const a of aliases) s += `${a.ip}\t${(a.hostnames ?? []).join('\t')}\n`;
  return s;
}

/** /etc/hosts of a pod with its own network: localhost entries, the pod's IPs and names, then hostAliases. */
export function managedHostsContent(pod: Obj, podIPs: string[], aliases?: HostAlias[], clusterDomain?: string): string {
  const { hostname, domain } = podHostname(pod, clusterDomain);
  let s = '# Kubernetes-managed hosts file.\n';
  s += '127.0.0.1\tlocalhost\n';
  s += '::1\tlocalhost ip6-localhost ip6-loopback\n';
  s += 'fe00::0\tip6-localnet\n';
  s += 'fe00::0\tip6-mcastprefix\n';
  s += 'fe00::1\tip6-allnodes\n';
  s += 'fe00::2\tip6-allrouters\n';
  for (const ip of podIPs) s += domain ? `${ip}\t${hostname}.${domain}\t${hostname}\n` : `${ip}\t${hostname}\n`;
  return s + aliasLines(aliases);
}

/** /etc/hosts of a hostNetwork pod: the node's file, then hostAliases. */
export function hostNetworkHostsContent(nodeHosts: string, aliases?: HostAlias[]): string {
  let s = '# Kubernetes-managed hosts file (host network).\n' + nodeHosts;
  if (s && !s.endsWith('\n')) s += '\n';
  return s + aliasLines(aliases);
}
