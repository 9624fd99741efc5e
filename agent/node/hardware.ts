/**
 * The node's hardware (cpu cores, total memory), read with systeminformation in
 * a short-lived child process, once per agent process.
 *
 * Why a child: systeminformation is a large library (23 modules) that the agent
 * needs for two numbers that only change with the hardware; loaded in the agent it
 * stays resident for the agent's life (measured: ~3 MB of RSS, ~1.5 MB of heap).
 * The kubelet reads its machine info once at start as well (cAdvisor's MachineInfo):
 * changed hardware shows after an agent restart. What can change at run time, the
 * cgroup limits the agent runs under, is read from the cgroup files in-process.
 *
 * Run as a program (`node hardware.js`), this module prints the reading as JSON.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export interface Hardware {
  /** Physical and logical cores as systeminformation counts them (`cores`). */
  cores: number;
  memTotalBytes: number;
}

const SELF = fileURLToPath(import.meta.url);

/** Reads the hardware in a child node process; rejects with a one-line reason. */
export function probeHardware(timeoutMs = 30_000): Promise<Hardware> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [SELF], { timeout: timeoutMs, maxBuffer: 64 * 1024 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`reading the hardware (systeminformation) failed: ${stderr.trim().split('\n').pop() || err.message}`));
      try {
        resolve(parseHardware(stdout));
      } catch (e) {
        reject(e);
      }
    });
  });
}

/** Validates the probe's answer. */
export function parseHardware(out: string): Hardware {
  const h = JSON.parse(out) as Partial<Hardware>;
  for (const k of ['cores', 'memTotalBytes'] as const) {
    if (typeof h[k] !== 'number' || !Number.isFinite(h[k]) || (h[k] as number) <= 0) throw new Error(`reading the hardware: ${k} is ${JSON.stringify(h[k])} in ${out.trim().slice(0, 200)}`);
  }
  return { cores: h.cores!, memTotalBytes: h.memTotalBytes! };
}

async function main(): Promise<void> {
  const si = await import('systeminformation');
  const [cpu, mem] = await Promise.all([si.cpu(), si.mem()]);
  process.stdout.write(`${JSON.stringify({ cores: cpu.cores, memTotalBytes: mem.total } satisfies Hardware)}\n`);
}

if (process.argv[1] === SELF) {
  main().catch((e) => {
    process.stderr.write(`${(e as Error).message}\n`);
    process.exit(1);
  });
}
