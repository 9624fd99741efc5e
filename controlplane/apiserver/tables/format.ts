/**
 * Formatting helpers shared by the table printers, ported from the behaviour of
 * apimachinery (`duration.HumanDuration`, `labels.FormatLabels`,
 * `metav1.FormatLabelSelector`) and kube-apiserver's printers. Pure functions.
 */

/** A stored Kubernetes object as JSON. */
export type Obj = Record<string, any>;

/** `meta.k8s.io/v1` TableColumnDefinition; every field is always serialized, as Go does. */
export interface ColumnDefinition {
  name: string;
  type: string;
  format: string;
  description: string;
  priority: number;
}

/** `meta.k8s.io/v1` TableRowCondition (only pods set one: Completed). */
export interface RowCondition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}

/** Turns one object into its cells, in column order. `now` is injected so output is deterministic. */
export interface Printer {
  columns: ColumnDefinition[];
  row(obj: Obj, now: Date): { cells: unknown[]; conditions?: RowCondition[] };
}

export const NAME_DESCRIPTION =
  'Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names';
export const AGE_DESCRIPTION =
  'CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata';

/** Builds a column definition; `Name` columns carry format `name` like the real printers. */
export function col(name: string, type: string, description: string, priority = 0, format = ''): ColumnDefinition {
  return { name, type, format, description, priority };
}
export const nameColumn = (): ColumnDefinition => col('Name', 'string', NAME_DESCRIPTION, 0, 'name');
export const ageColumn = (): ColumnDefinition => col('Age', 'string', AGE_DESCRIPTION);

/**
 * duration.HumanDuration: ~2-3 significant figures. Negative durations up to
 * -2s (exclusive) print `0s` to tolerate clock skew; beyond that `<invalid>`.
 * Go truncates toward zero at every step, so we do too.
 */
export function humanDuration(ms: number): string {
  const seconds = Math.trunc(ms / 1000);
  if (seconds < -1) return '<invalid>';
  if (seconds < 0) return '0s';
  if (seconds < 60 * 2) return `${seconds}s`;
  const minutes = Math.trunc(seconds / 60);
  if (minutes < 10) {
    const s = seconds % 60;
    return s === 0 ? `${minutes}m` : `${minutes}m${s}s`;
  }
  if (minutes < 60 * 3) return `${minutes}m`;
  const hours = Math.trunc(minutes / 60);
  if (hours < 8) {
    const m = minutes % 60;
    return m === 0 ? `${hours}h` : `${hours}h${m}m`;
  }
  if (hours < 48) return `${hours}h`;
  if (hours < 24 * 8) {
    const h = hours % 24;
    return h === 0 ? `${Math.trunc(hours / 24)}d` : `${Math.trunc(hours / 24)}d${h}h`;
  }
  if (hours < 24 * 365 * 2) return `${Math.trunc(hours / 24)}d`;
  if (hours < 24 * 365 * 8) {
    const dy = Math.trunc(hours / 24) % 365;
    const y = Math.trunc(hours / 24 / 365);
    return dy === 0 ? `${y}y` : `${y}y${dy}d`;
  }
  return `${Math.trunc(hours / 24 / 365)}y`;
}

/** Milliseconds of an RFC 3339 timestamp, or undefined for absent/zero/unparseable (Go's `IsZero`). */
export function parseTime(ts: unknown): number | undefined {
  if (typeof ts !== 'string' || ts === '') return undefined;
  // Go's zero time can be written as 0001-01-01T00:00:00Z; treat it as unset too.
  if (ts.startsWith('0001-01-01')) return undefined;
  const t = Date.parse(ts);
  return Number.isNaN(t) ? undefined : t;
}

/** translateTimestampSince: `<unknown>` when the timestamp is unset. */
export function since(ts: unknown, now: Date): string {
  const t = parseTime(ts);
  return t === undefined ? '<unknown>' : humanDuration(now.getTime() - t);
}

/** labels.FormatLabels: sorted `k=v` joined by commas, `<none>` when empty. */
export function formatLabels(m: unknown): string {
  if (!m || typeof m !== 'object') return '<none>';
  const keys = Object.keys(m).sort();
  if (keys.length === 0) return '<none>';
  return keys.map((k) => `${k}=${(m as Record<string, unknown>)[k]}`).join(',');
}

/**
 * labels.Selector.String() of metav1.LabelSelectorAsSelector: requirements
 * sorted by key, multi-valued sets sorted. A nil selector selects nothing and an
 * empty one everything; both print as the empty string.
 */
export function selectorString(sel: unknown): string {
  if (!sel || typeof sel !== 'object') return '';
  const s = sel as { matchLabels?: Record<string, string>; matchExpressions?: { key: string; operator: string; values?: string[] }[] };
  const reqs: { key: string; text: string }[] = [];
  for (const [k, v] of Object.entries(s.matchLabels ?? {})) reqs.push({ key: k, text: `${k}=${v}` });
  for (const e of s.matchExpressions ?? []) {
    const values = [...(e.values ?? [])].sort();
    const set = values.length === 1 ? values[0] : values.join(',');
    switch (e.operator) {
      case 'In':
        reqs.push({ key: e.key, text: `${e.key} in (${set})` });
        break;
      case 'NotIn':
        reqs.push({ key: e.key, text: `${e.key} notin (${set})` });
        break;
      case 'Exists':
        reqs.push({ key: e.key, text: e.key });
        break;
      case 'DoesNotExist':
        reqs.push({ key: e.key, text: `!${e.key}` });
        break;
      default:
        // LabelSelectorAsSelector fails on unknown operators; the printers then show <invalid>/<error>.
        return '<invalid>';
    }
  }
  // Stable sort keeps matchLabels before expressions on the same key, as Go's Add usually does.
  return reqs
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
    .map((r) => r.text)
    .join(',');
}

/** metav1.FormatLabelSelector: like selectorString, `<none>` when empty, `<error>` when invalid. */
export function formatLabelSelector(sel: unknown): string {
  const s = selectorString(sel);
  if (s === '<invalid>') return '<error>';
  return s === '' ? '<none>' : s;
}

/** layoutContainerCells: container names and images, comma-joined. */
export function containerCells(containers: unknown): [string, string] {
  const list = Array.isArray(containers) ? (containers as Obj[]) : [];
  return [list.map((c) => c?.name ?? '').join(','), list.map((c) => c?.image ?? '').join(',')];
}

/** Integer-valued cell: missing numbers are 0, as Go's zero values. */
export function int(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) ? Math.trunc(v) : 0;
}

/** `list + N more...` joining used by endpoints and endpoint slices. */
export function listWithMore(list: string[], count: number, max: number, empty: string): string {
  const ret = list.join(',');
  if (count > max) return `${ret} + ${count - max} more...`;
  return ret === '' ? empty : ret;
}
