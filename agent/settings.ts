/** The agent's defaults, loadable without the agent (CLI help, `skiff up`). */
export const AGENT_DEFAULTS = {
  dataDir: '/var/lib/skiff/agent',
  port: 10250,
  manifests: '/etc/skiff/manifests',
  clusterCIDR: '10.244.0.0/16',
  serviceCIDR: '10.96.0.0/12',
  clusterDNS: '10.96.0.10',
  clusterDomain: 'cluster.local',
  reservedCpu: '100m',
  reservedMemory: '256Mi',
};
