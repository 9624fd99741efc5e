/**
 * Client configuration for Skiff's own components (scheduler, controllers, agent):
 * they reach the API server through @kubernetes/client-node exactly like any
 * other client, with a bearer token and the cluster CA.
 */
import { KubeConfig } from '@kubernetes/client-node';

export function clientConfig(server: string, caCert: string, token: string, user = 'skiff'): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'skiff', server, caData: Buffer.from(caCert).toString('base64'), skipTLSVerify: false }],
    users: [{ name: user, token }],
    contexts: [{ name: 'skiff', cluster: 'skiff', user }],
    currentContext: 'skiff',
  });
  return kc;
}
