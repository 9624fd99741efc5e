/**
 * The server's defaults (the contracts of design.md), in a module of their own so
 * the CLI can print help and start other commands without loading the server.
 */
export const DEFAULTS = {
  dataDir: '/var/lib/skiff/server',
  bindAddress: '0.0.0.0',
  port: 6443,
  clusterCidr: '10.244.0.0/16',
  serviceCidr: '10.96.0.0/12',
  kubeconfig: '/etc/skiff/admin.kubeconfig',
};
