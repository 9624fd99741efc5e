/**
 * An flock(2) lock on a file, shared with shell scripts that take the same lock with
 * flock(1) (the CNI plugin does): a child `flock -w T FILE sh -c 'echo locked; read _'`
 * holds it until we close its stdin, or until we die (the pipe closes then too).
 */
import { spawn, type ChildProcess } from 'node:child_process';

export interface FileLock {
  /** Releases the lock (idempotent). */
  release(): void;
  /** Resolves when the holder process has exited. */
  readonly released: Promise<void>;
  readonly holder: ChildProcess;
}

/** Takes the lock on `path` (created when missing), waiting at most `timeoutMs`. */
export function takeFileLock(path: string, timeoutMs: number): Promise<FileLock> {
  return new Promise((resolve, reject) => {
    const p = spawn('flock', ['-w', String(Math.max(1, Math.ceil(timeoutMs / 1000))), path, 'sh', '-c', 'echo locked; read _'], { stdio: ['pipe', 'pipe', 'inherit'] });
    const released = new Promise<void>((r) => p.once('exit', () => r()));
    let out = '';
    let held = false;
    p.stdout!.on('data', (d) => {
      out += d;
      if (!held && out.includes('locked')) {
        held = true;
        resolve({ holder: p, released, release: () => void (p.stdin!.writable && p.stdin!.end()) });
      }
    });
    p.once('exit', (code) => {
      if (!held) reject(new Error(`could not lock ${path} within ${timeoutMs} ms (flock exited with ${code})`));
    });
    p.once('error', reject);
  });
}

/** Runs `fn` while holding the lock on `path`. */
export async function withFileLock<T>(path: string, timeoutMs: number, fn: () => Promise<T>): Promise<T> {
  const lock = await takeFileLock(path, timeoutMs);
  try {
    return await fn();
  } finally {
    lock.release();
    await lock.released;
  }
}
