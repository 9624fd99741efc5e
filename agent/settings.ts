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
 * How the agent's Node.js process is started (bin/skiff, `skiff up`, tests, and the
 * benchmarks that run agent code: proxy, DNS). The agent's live heap is small (~15 MB
 * with dozens of pods); what V8 and glibc add around it is what these trim:
 *
 * - `--max-semi-space-size=1` and MALLOC_ARENA_MAX=2: a 1 MB young generation and at
 *   most two malloc arenas (measured with 6 pods: 95 -> 77 MB RSS);
 * - `--interrupt-budget=1320000` (about 20x V8's default, 67,584): a function must run
 *   20x more bytecode before V8 considers optimizing it with TurboFan. The agent's own
 *   code is glue around Docker, the API and nft, run a few times per pod; only the
 *   really hot paths (DNS answers under load, a proxy sync of thousands of services)
 *   still get optimized code, and the rest no optimized code or compiler memory.
 *   Measured with 50 pods: 78 -> 73 MB RSS (idle 66 -> 58 MB). DNS, 32 queries in
 *   flight: 34.8k -> 24.2k queries/s over 30,000 queries, 31.4k over 300,000 (it
 *   warms up). `--no-opt` (no TurboFan at all) gave 68 MB but 16k queries/s for good.
 *
 * bin/skiff repeats these for `skiff agent` (agent/settings.test.ts checks it does).
 */
export const AGENT_NODE_FLAGS = ['--max-semi-space-size=1', '--interrupt-budget=1320000'];
export const AGENT_ENV = { MALLOC_ARENA_MAX: '2' };
