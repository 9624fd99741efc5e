/**
 * Namespace lifecycle admission: objects are created only into namespaces that
 * exist and are not terminating; the system namespaces cannot be deleted.
 */
import { forbidden, notFound, StatusError } from '../../common/errors.js';
import type { Store } from '../store/types.js';
import { findResource, storageKey } from './resources.js';

export const SYSTEM_NAMESPACES = ['default', 'kube-system', 'kube-public', 'kube-node-lease'] as const;
const UNDELETABLE = new Set(['default', 'kube-system', 'kube-public']);

const NAMESPACES = findResource('', 'v1', 'namespaces')!;

export async function admitNamespacedCreate(store: Store, namespace: string): Promise<void> {
  const kv = await store.get(storageKey(NAMESPACES, undefined, namespace));
  if (!kv) throw notFound('namespaces', namespace);
  const ns = JSON.parse(kv.value) as { status?: { phase?: string }; metadata?: { deletionTimestamp?: string } };
  if (ns.status?.phase === 'Terminating' || ns.metadata?.deletionTimestamp) {
    throw new StatusError(403, 'Forbidden', `unable to create new content in namespace ${namespace} because it is being terminated`, {
      name: namespace,
      kind: 'namespaces',
      causes: [{ reason: 'NamespaceTerminating', message: `namespace ${namespace} is being terminated`, field: 'metadata.namespace' }],
    });
  }
}

export function admitNamespaceDelete(name: string): void {
  if (UNDELETABLE.has(name)) throw forbidden(`namespaces "${name}" is forbidden: this namespace may not be deleted`);
}
