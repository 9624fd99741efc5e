/**
 * Time for the controllers: the shared Clock (common/clock.ts) and the
 * metav1.Time conversions they need.
 */
export { FakeClock, realClock, type Clock, type TimerHandle } from '../../common/clock.js';

/** RFC 3339 with second precision, as Kubernetes serializes metav1.Time. */
export function rfc3339(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');
}

/** Parses a metav1.Time; undefined for absent or malformed values. */
export function parseTime(s: unknown): number | undefined {
  if (typeof s !== 'string' || !s) return undefined;
  const t = Date.parse(s);
  return Number.isNaN(t) ? undefined : t;
}
