/**
 * How the agent's HTTPS endpoint finds a container for logs and exec: the pod
 * by namespace/name among those the kubelet runs (API and static pods), then
 * the newest instance of the named container (init containers included), or
 * the one before it for `previous`.
 */
import type { Kubelet } from './kubelet/kubelet.js';

export interface PodLookup {
  container(namespace: string, pod: string, container: string, previous: boolean): Promise<{ id: string } | undefined>;
}

export function podLookup(kubelet: () => Kubelet | undefined): PodLookup {
  return {
    async container(namespace, pod, container, previous) {
      const k = kubelet();
      const p = k?.podByName(namespace, pod);
      if (!k || !p) return undefined;
      const rp = k.runtimePod(p.metadata.uid) ?? (await k.relister.fresh()).get(p.metadata.uid);
      const instances = (rp?.containers ?? []).filter((c) => c.name === container);
      const c = previous ? instances[1] : instances[0];
      return c ? { id: c.id } : undefined;
    },
  };
}
