/**
 * The few mount operations volumes need: tmpfs for memory-backed emptyDirs, Secrets
 * and projected volumes, and finding and undoing our mounts on cleanup. Mount points
 * are read from /proc/self/mountinfo (octal escapes decoded); mounting uses the
 * mount(8)/umount(8) binaries, as Node has no mount(2).
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';

export interface Mounter {
  /** Mounts a fresh tmpfs on `dir` (mode 0777 as the kubelet's emptyDir, 0755 otherwise); `sizeBytes` caps it. */
  mountTmpfs(dir: string, opts?: { sizeBytes?: number; mode?: number }): Promise<void>;
  /** Unmounts `dir`; falls back to a lazy unmount when busy. Not mounted is success. */
  unmount(dir: string): Promise<void>;
  /** Mount points at or below `dir`, deepest first. */
  mountsUnder(dir: string): Promise<string[]>;
  isMountPoint(dir: string): Promise<boolean>;
}

/** Decodes mountinfo's `\040`-style escapes. */
export function unescapeMountPath(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** Mount points (field 5) of a mountinfo text. */
export function parseMountInfo(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(' ');
    if (f.length > 4) out.push(unescapeMountPath(f[4]));
  }
  return out;
}

function run(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: 30_000 }, (err, _stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')}: ${String(stderr).trim() || err.message}`));
      else resolve();
    });
  });
}

export class SystemMounter implements Mounter {
  async mountPoints(): Promise<string[]> {
    return parseMountInfo(await readFile('/proc/self/mountinfo', 'utf8'));
  }

  async isMountPoint(dir: string): Promise<boolean> {
    return (await this.mountPoints()).includes(dir.replace(/\/+$/, ''));
  }

  async mountTmpfs(dir: string, opts: { sizeBytes?: number; mode?: number } = {}): Promise<void> {
    const o = [`mode=${(opts.mode ?? 0o777).toString(8)}`];
    if (opts.sizeBytes !== undefined && opts.sizeBytes > 0) o.push(`size=${opts.sizeBytes}`);
    await run('mount', ['-t', 'tmpfs', '-o', o.join(','), 'tmpfs', dir]);
  }

  async unmount(dir: string): Promise<void> {
    if (!(await this.isMountPoint(dir))) return;
    try {
      await run('umount', [dir]);
    } catch (e) {
      // Busy (a process still has it open): detach it so the directory can go.
      if (!/busy/i.test((e as Error).message)) throw e;
      await run('umount', ['-l', dir]);
    }
  }

  async mountsUnder(dir: string): Promise<string[]> {
    const base = dir.replace(/\/+$/, '');
    return (await this.mountPoints())
      .filter((m) => m === base || m.startsWith(`${base}/`))
      .sort((a, b) => b.length - a.length);
  }
}
