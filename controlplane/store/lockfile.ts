/**
 * An exclusive, advisory lock on a data file: `<path>.lock` holds
 * `<pid> <start time>` of the owner. Only one process may serve a store file;
 * a second open fails fast with StoreLockedError instead of two writers
 * interleaving revisions.
 *
 * A lock whose owner is gone (killed, crashed, or a previous container whose
 * pid was reused) is stale and is taken over. Liveness is pid + the process
 * start time from /proc, so a recycled pid does not look like the old owner.
 */

import fs from 'node:fs';

export class StoreLockedError extends Error {
  readonly code = 'ESTORELOCKED';
  constructor(
    readonly path: string,
    readonly ownerPid: number,
  ) {
    super(`store ${path} is in use by process ${ownerPid} (lock file ${path}.lock); stop it first`);
    this.name = 'StoreLockedError';
  }
}

/** Lock files held by this process, so a second open in-process is refused too. */
const heldHere = new Set<string>();

/** Linux process start time (clock ticks since boot), or '' when unknown. */
function startTime(pid: number): string {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 2 (comm) may contain spaces and parentheses: split after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19] ?? ''; // field 22 overall
  } catch {
    return '';
  }
}

function ownerAlive(pid: number, start: string): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    // EPERM: it exists but belongs to someone else, so it is alive.
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  if (start === '') return true;
  const now = startTime(pid);
  return now === '' || now === start;
}

export interface FileLock {
  release(): void;
}

/** Takes `<dataPath>.lock` or throws StoreLockedError. Not reentrant. */
export function acquireLock(dataPath: string): FileLock {
  const lockPath = `${dataPath}.lock`;
  if (heldHere.has(lockPath)) throw new StoreLockedError(dataPath, process.pid);
  const content = `${process.pid} ${startTime(process.pid)}\n`;
  // A few attempts: between removing a stale lock and creating ours another
  // process may win the create, and then it is the owner.
  for (let attempt = 0; attempt < 3; attempt++) {
    // Write a private file, then hard-link it into place: link fails with EEXIST
    // if a lock exists, and a lock file is never seen half-written.
    const tmp = `${lockPath}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, content, { mode: 0o600 });
    let linked = false;
    try {
      fs.linkSync(tmp, lockPath);
      linked = true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    } finally {
      fs.unlinkSync(tmp);
    }
    if (linked) {
      heldHere.add(lockPath);
      let released = false;
      return {
        release() {
          if (released) return;
          released = true;
          heldHere.delete(lockPath);
          try {
            fs.unlinkSync(lockPath);
          } catch {
            // Already gone: releasing is idempotent.
          }
        },
      };
    }
    let text = '';
    try {
      text = fs.readFileSync(lockPath, 'utf8');
    } catch {
      continue; // removed meanwhile: try again
    }
    const [pidText = '', start = ''] = text.trim().split(/\s+/);
    const pid = Number(pidText);
    // Our own pid without an in-process hold is a previous incarnation (e.g. pid 1 in a restarted container).
    const stale = !Number.isInteger(pid) || pid <= 0 || pid === process.pid || !ownerAlive(pid, start);
    if (!stale) throw new StoreLockedError(dataPath, pid);
    try {
      fs.unlinkSync(lockPath);
    } catch {
      // Someone else removed it first; the next attempt decides.
    }
  }
  throw new StoreLockedError(dataPath, -1);
}
