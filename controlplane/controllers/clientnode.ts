/**
 * Informer sources on @kubernetes/client-node's makeInformer (a ListWatch that
 * relists on 410 and re-watches after its timeout). Kept apart from informer.ts
 * so that processes which do not want client-node's runtime (the agent) can use
 * informers without loading it.
 */
import * as k8s from '@kubernetes/client-node';
import type { KubeConfig } from '@kubernetes/client-node';
import type { ListWatchSource, SourceFactory } from './informer.js';

export function clientNodeSource(kc: KubeConfig): SourceFactory {
  return (path, list) => k8s.makeInformer(kc, path, list as never) as unknown as ListWatchSource;
}
