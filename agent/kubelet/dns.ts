/**
 * A pod's resolv.conf, as the kubelet's dns.Configurer.GetPodDNS composes it:
 *
 *  - ClusterFirst: the cluster DNS server only, searches
 *    `<ns>.svc.<domain> svc.<domain> <domain>` then the host's, `options ndots:5`.
 *    A hostNetwork pod with ClusterFirst gets Default instead; ClusterFirstWithHostNet
 *    is ClusterFirst for everyone. Without a cluster DNS address, ClusterFirst falls
 *    back to Default with a MissingClusterDNS warning.
 *  - Default: the host's resolv.conf (the kubelet's --resolv-conf).
 *  - None: nothing but `dnsConfig`.
 *
 * `spec.dnsConfig` is then merged (nameservers and searches appended without
 * duplicates, options by name with the pod's value winning) and the result trimmed
 * to the resolver's limits: 3 nameservers, 32 search domains of at most 253
 * characters, 2048 characters of search line, each cut reported as a
 * DNSConfigForming warning. `podDNSConfig` is pure; `resolvConfFor` reads the host file.
 */
import { readFile } from 'node:fs/promises';
import type { Obj } from './fieldpath.js';

export interface DNSOptions {
  /** Cluster DNS server(s); empty disables ClusterFirst. */
  clusterDNS: string | string[];
  clusterDomain: string;
  /** Host resolver file for Default; '' means "no host DNS": 127.0.0.1 and search `.`. */
  hostResolvConf: string;
}

export interface DNSConfig {
  servers: string[];
  searches: string[];
  options: string[];
}

export interface PodDNS extends DNSConfig {
  /** Warning events for the pod: DNSConfigForming, MissingClusterDNS. */
  warnings: { reason: string; message: string }[];
}

export const MAX_NAMESERVERS = 3;
export const MAX_SEARCH_PATHS = 32;
export const MAX_SEARCH_LIST_CHARS = 2048;
const MAX_SEARCH_DOMAIN_LENGTH = 253;

/** The nameserver, search and options lines of a resolv.conf (the last search line wins). */
export function parseResolvConf(text: string): DNSConfig {
  const out: DNSConfig = { servers: [], searches: [], options: [] };
  for (const raw of text.split('\n')) {
    const line = raw.replace(/[#;].*$/, '').trim();
    const fields = line.split(/\s+/).filter(Boolean);
    if (fields.length === 0) continue;
    const [key, ...rest] = fields;
    if (key === 'nameserver' && rest.length) out.servers.push(rest[0]);
    else if (key === 'search') out.searches = rest.filter((s) => s !== '.').map((s) => s.replace(/\.$/, ''));
    else if (key === 'options') out.options = mergeOptions(out.options, rest);
  }
  return out;
}

function omitDuplicates(xs: string[]): string[] {
  return [...new Set(xs)];
}

/** Options keyed by name (`ndots:5` -> ndots); later entries replace earlier ones in place. */
function mergeOptions(base: string[], extra: string[]): string[] {
  const m = new Map<string, string>();
  for (const op of [...base, ...extra]) {
    const i = op.indexOf(':');
    if (i < 0) m.set(op, '');
    else m.set(op.slice(0, i), op.slice(i + 1));
  }
  return [...m].map(([k, v]) => (v === '' ? k : `${k}:${v}`));
}

type Policy = 'none' | 'cluster' | 'host';

/** getPodDNSType: which base the pod's DNS starts from. */
export function podDNSType(pod: Obj): Policy {
  const hostNetwork = pod.spec?.hostNetwork === true;
  switch (pod.spec?.dnsPolicy ?? 'ClusterFirst') {
    case 'None':
      return 'none';
    case 'ClusterFirstWithHostNet':
      return 'cluster';
    case 'ClusterFirst':
      return hostNetwork ? 'host' : 'cluster';
    case 'Default':
      return 'host';
    default:
      // The API server rejects other values; the kubelet treats them as ClusterFirst.
      return 'cluster';
  }
}

/** Search domains cut to the resolver's limits (formDNSSearchFitsLimits); `cut` when any was dropped. */
function fitSearches(searches: string[]): { searches: string[]; cut: boolean } {
  let cut = false;
  let out = searches;
  if (out.length > MAX_SEARCH_PATHS) {
    out = out.slice(0, MAX_SEARCH_PATHS);
    cut = true;
  }
  // glibc aborts on a search domain over 255 characters: drop those.
  const kept = out.filter((s) => s.length <= MAX_SEARCH_DOMAIN_LENGTH);
  if (kept.length !== out.length) cut = true;
  out = kept;
  while (out.length && out.join(' ').length > MAX_SEARCH_LIST_CHARS) {
    out = out.slice(0, -1);
    cut = true;
  }
  return { searches: out, cut };
}

/** The pod's DNS configuration from the host's parsed resolv.conf. Pure. */
export function podDNSConfig(pod: Obj, opts: DNSOptions, host: DNSConfig): PodDNS {
  const warnings: PodDNS['warnings'] = [];
  const clusterDNS = (Array.isArray(opts.clusterDNS) ? opts.clusterDNS : [opts.clusterDNS]).filter(Boolean);
  let type = podDNSType(pod);
  let cfg: DNSConfig = { servers: [...host.servers], searches: [...host.searches], options: [...host.options] };
  if (type === 'cluster' && clusterDNS.length === 0) {
    warnings.push({
      reason: 'MissingClusterDNS',
      message: 'kubelet does not have ClusterDNS IP configured and cannot create Pod using "ClusterFirst" policy. Falling back to "Default" policy.',
    });
    type = 'host';
  }
  if (type === 'none') cfg = { servers: [], searches: [], options: [] };
  else if (type === 'cluster') {
    const ns = pod.metadata?.namespace ?? 'default';
    const d = opts.clusterDomain;
    cfg = {
      servers: [...clusterDNS],
      searches: d ? omitDuplicates([`${ns}.svc.${d}`, `svc.${d}`, d, ...host.searches]) : [...host.searches],
      options: ['ndots:5'],
    };
  } else if (opts.hostResolvConf === '') {
    // No host resolver configured: "the nameserver on the local machine", no search.
    cfg = { servers: ['127.0.0.1'], searches: ['.'], options: [] };
  }
  const pc = pod.spec?.dnsConfig;
  if (pc) {
    cfg.servers = omitDuplicates([...cfg.servers, ...((pc.nameservers ?? []) as string[])]);
    cfg.searches = omitDuplicates([...cfg.searches, ...((pc.searches ?? []) as string[])]);
    const extra = ((pc.options ?? []) as Obj[]).map((o) => (o.value !== undefined && o.value !== null && o.value !== '' ? `${o.name}:${o.value}` : String(o.name)));
    cfg.options = mergeOptions(cfg.options, extra);
  }
  if (cfg.servers.length > MAX_NAMESERVERS) {
    cfg.servers = cfg.servers.slice(0, MAX_NAMESERVERS);
    warnings.push({
      reason: 'DNSConfigForming',
      message: `Nameserver limits were exceeded, some nameservers have been omitted, the applied nameserver line is: ${cfg.servers.join(' ')}`,
    });
  }
  const fit = fitSearches(cfg.searches);
  cfg.searches = fit.searches;
  if (fit.cut) {
    warnings.push({
      reason: 'DNSConfigForming',
      message: `Search Line limits were exceeded, some search paths have been omitted, the applied search line is: ${cfg.searches.join(' ')}`,
    });
  }
  return { ...cfg, warnings };
}

/**
 * The pod's resolv.conf lines for SandboxSpec.dns. Reads `opts.hostResolvConf` (a missing
 * file reads as empty, as for a host without one).
 */
export async function resolvConfFor(
  pod: Obj,
  opts: DNSOptions = { clusterDNS: '10.96.0.10', clusterDomain: 'cluster.local', hostResolvConf: '/etc/resolv.conf' },
): Promise<PodDNS> {
  let text = '';
  if (opts.hostResolvConf) {
    try {
      text = await readFile(opts.hostResolvConf, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`reading host resolv.conf ${opts.hostResolvConf}: ${(e as Error).message}`);
    }
  }
  return podDNSConfig(pod, opts, parseResolvConf(text));
}

/** The text of a resolv.conf for `cfg` (for runtimes that take a file rather than lines). */
export function formatResolvConf(cfg: DNSConfig): string {
  const lines = cfg.servers.map((s) => `nameserver ${s}`);
  if (cfg.searches.length) lines.push(`search ${cfg.searches.join(' ')}`);
  if (cfg.options.length) lines.push(`options ${cfg.options.join(' ')}`);
  return lines.join('\n') + '\n';
}
