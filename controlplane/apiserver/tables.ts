/**
 * Server-side printing: turns objects into a `meta.k8s.io/v1` Table, the form
 * `kubectl get` asks for (`Accept: application/json;as=Table;v=v1;g=meta.k8s.io`).
 *
 * Like kube-apiserver, tables are always generated "wide": every column is
 * present and columns with `priority: 1` are only shown by `kubectl get -o wide`.
 * Cells follow the upstream printers (pkg/printers/internalversion); resources
 * without a printer get the default NAME / AGE table that custom resources get.
 * Pure: time comes from `opts.now`.
 */

import { ageColumn, humanDuration, nameColumn, since, type ColumnDefinition, type Obj, type Printer } from './tables/format.js';
import { podPrinter } from './tables/pods.js';
import { daemonSetPrinter, deploymentPrinter, replicaSetPrinter } from './tables/workloads.js';
import { endpointSlicePrinter, endpointsPrinter, servicePrinter } from './tables/network.js';
import {
  configMapPrinter,
  eventPrinter,
  leasePrinter,
  namespacePrinter,
  nodePrinter,
  secretPrinter,
  serviceAccountPrinter,
} from './tables/cluster.js';

export { humanDuration };
export type { ColumnDefinition };

/** Printers by resource plural. */
const PRINTERS: Record<string, Printer> = {
  pods: podPrinter,
  deployments: deploymentPrinter,
  replicasets: replicaSetPrinter,
  daemonsets: daemonSetPrinter,
  services: servicePrinter,
  endpoints: endpointsPrinter,
  endpointslices: endpointSlicePrinter,
  nodes: nodePrinter,
  namespaces: namespacePrinter,
  configmaps: configMapPrinter,
  secrets: secretPrinter,
  serviceaccounts: serviceAccountPrinter,
  leases: leasePrinter,
  events: eventPrinter,
};

/**
 * The table for resources without a printer. Like a custom resource without
 * printer columns: NAME and an AGE column of type `date` whose cells are
 * already humanized, so kubectl prints `NAME AGE`.
 */
const defaultPrinter: Printer = {
  columns: [nameColumn(), { ...ageColumn(), type: 'date' }],
  row: (obj, now) => ({ cells: [obj.metadata?.name ?? '', since(obj.metadata?.creationTimestamp, now)] }),
};

export interface TableOptions {
  /** The clock for AGE and other relative times. */
  now: Date;
  /** What each row's `object` carries: PartialObjectMetadata (default), the whole object, or nothing. */
  includeObject?: 'None' | 'Metadata' | 'Object';
  /** false omits columnDefinitions (watch events after the first, or `TableOptions.noHeaders`). */
  withColumns?: boolean;
  /** Table metadata: the list's resourceVersion and pagination state. */
  resourceVersion?: string;
  continue?: string;
  remainingItemCount?: number;
}

/** Column definitions for a resource plural (the default NAME/AGE pair when it has no printer). */
export function columnDefinitions(plural: string): ColumnDefinition[] {
  return (PRINTERS[plural] ?? defaultPrinter).columns.map((c) => ({ ...c }));
}

/** The row `object` for one item, per `includeObject` (metav1.IncludeObjectPolicy). */
function rowObject(obj: Obj, include: TableOptions['includeObject']): Record<string, unknown> | undefined {
  switch (include ?? 'Metadata') {
    case 'None':
      return undefined;
    case 'Object':
      return obj;
    default:
      return { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: obj.metadata ?? {} };
  }
}

/**
 * Builds the Table for `objects` of resource `plural` (one object for a GET or
 * a watch event, all items for a list). Rows keep the input order. Metadata
 * carries `resourceVersion`, and `continue` / `remainingItemCount` only when
 * given, as Go omits them when empty.
 */
export function toTable(plural: string, objects: Record<string, any>[], opts: TableOptions): Record<string, unknown> {
  const printer = PRINTERS[plural] ?? defaultPrinter;
  const metadata: Record<string, unknown> = {};
  if (opts.resourceVersion !== undefined) metadata.resourceVersion = opts.resourceVersion;
  if (opts.continue) metadata.continue = opts.continue;
  if (opts.remainingItemCount !== undefined) metadata.remainingItemCount = opts.remainingItemCount;

  const rows = objects.map((obj) => {
    const { cells, conditions } = printer.row(obj, opts.now);
    const row: Record<string, unknown> = { cells };
    if (conditions) row.conditions = conditions.map((c) => ({ ...c }));
    const object = rowObject(obj, opts.includeObject);
    if (object !== undefined) row.object = object;
    return row;
  });

  const table: Record<string, unknown> = { kind: 'Table', apiVersion: 'meta.k8s.io/v1', metadata };
  if (opts.withColumns !== false) table.columnDefinitions = columnDefinitions(plural);
  table.rows = rows;
  return table;
}
