/** Shared printing for benchmarks: each figure next to its floor, in one table. */

export interface Row {
  name: string;
  value: number;
  unit: string;
  p50?: number;
  p99?: number;
  /** Figure divided by its floor, when the row has one. */
  ratio?: number;
  goal?: string;
}

export function percentile(values: number[], p: number): number {
  if (!values.length) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const i = Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1));
  return s[i];
}

const f = (n: number | undefined, d = 1): string => (n === undefined || Number.isNaN(n) ? '' : n.toFixed(d));

export function printRows(title: string, rows: Row[]): void {
  const table = [['benchmark', 'figure', 'unit', 'p50 ms', 'p99 ms', 'vs floor', 'goal'], ...rows.map((r) => [r.name, f(r.value, 0), r.unit, f(r.p50, 2), f(r.p99, 2), r.ratio === undefined ? '' : `${r.ratio.toFixed(2)}x`, r.goal ?? ''])];
  const widths = table[0].map((_, i) => Math.max(...table.map((row) => row[i].length)));
  console.log(`\n${title}`);
  for (const [i, row] of table.entries()) {
    console.log(`| ${row.map((c, j) => c.padEnd(widths[j])).join(' | ')} |`);
    if (i === 0) console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  }
}

/** Runs `total` operations with `concurrency` in flight; returns per-op latencies (ms) and the wall time. */
export async function drive(total: number, concurrency: number, op: (i: number) => Promise<void>): Promise<{ lat: number[]; seconds: number }> {
  const lat: number[] = [];
  let next = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        const i = next++;
        const t = performance.now();
        await op(i);
        lat.push(performance.now() - t);
      }
    }),
  );
  return { lat, seconds: (performance.now() - start) / 1000 };
}
