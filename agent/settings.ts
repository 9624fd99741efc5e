/** The agent's defaults, loadable without the agent (CLI help, `skiff up`). */
export const AGENT_DEFAULTS = {
  dataDir: '/var/lib/skiff/agent',
  port: 10250,
  manifests: '/etc/skiff/manifests',
  clusterCIDR: '10.244.0.0/16',
  serviceCIDR: '10.96.0.0/12',
  clusterDNS: '10.96.0.10',
  clusterDomain: 'cluster.local',
  /** The node-local cluster DNS server (agent/dns), UDP and TCP; 0 disables it. */
  dnsPort: 10053,
  reservedCpu: '100m',
  reservedMemory: '256Mi',
};

/**
 * How the agent's Node.js process is started (bin/skiff, `skiff up`, tests): a 1 MB
 * young generation and at most two malloc arenas. The agent's heap is small (~15 MB
 * with dozens of pods) but V8's default semi-spaces and glibc's per-thread arenas
 * add ~10 MB of RSS; measured with 6 pods: 95 MB -> 77 MB.
 */
export const AGENT_NODE_FLAGS = ['--max-semi-space-size=1'];
export const AGENT_ENV = { MALLOC_ARENA_MAX: '2' };
