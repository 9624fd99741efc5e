/**
 * hostPath volumes: the `type` checks the kubelet makes before mounting a host path
 * (pkg/volume/hostpath checkType), with its messages. `DirectoryOrCreate` creates the
 * directory (0755, parents too); `FileOrCreate` creates an empty file (0644) but, as in
 * Kubernetes, not its parent directory. An empty type checks nothing.
 */
import { mkdir, open, stat } from 'node:fs/promises';
import { isAbsolute } from 'node:path';
import type { Stats } from 'node:fs';

export type HostPathType = '' | 'DirectoryOrCreate' | 'Directory' | 'FileOrCreate' | 'File' | 'Socket' | 'CharDevice' | 'BlockDevice';

async function statOrUndefined(path: string): Promise<Stats | undefined> {
  try {
    return await stat(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/** Checks (and for the *OrCreate types makes) `path`; rejects with the kubelet's message. */
export async function checkHostPath(path: string, type: string | undefined): Promise<void> {
  if (!path || !isAbsolute(path)) throw new Error(`hostPath path must be absolute, got "${path}"`);
  const t = (type ?? '') as HostPathType;
  if (t === '') return;
  let st = await statOrUndefined(path);
  switch (t) {
    case 'DirectoryOrCreate':
      if (!st) {
        await mkdir(path, { recursive: true, mode: 0o755 });
        return;
      }
      // An existing path must be a directory, as for Directory.
      if (!st.isDirectory()) throw new Error(`hostPath type check failed: ${path} is not a directory`);
      return;
    case 'Directory':
      if (!st?.isDirectory()) throw new Error(`hostPath type check failed: ${path} is not a directory`);
      return;
    case 'FileOrCreate':
      if (!st) {
        try {
          // 'a' creates without truncating: a file created concurrently keeps its content.
          await (await open(path, 'a', 0o644)).close();
        } catch (e) {
          throw new Error(`hostPath type check failed: cannot create file ${path}: ${(e as Error).message}`);
        }
        st = await stat(path);
      }
      if (!st.isFile()) throw new Error(`hostPath type check failed: ${path} is not a file`);
      return;
    case 'File':
      if (!st?.isFile()) throw new Error(`hostPath type check failed: ${path} is not a file`);
      return;
    case 'Socket':
      if (!st?.isSocket()) throw new Error(`hostPath type check failed: ${path} is not a socket file`);
      return;
    case 'CharDevice':
      if (!st?.isCharacterDevice()) throw new Error(`hostPath type check failed: ${path} is not a character device`);
      return;
    case 'BlockDevice':
      if (!st?.isBlockDevice()) throw new Error(`hostPath type check failed: ${path} is not a block device`);
      return;
    default:
      throw new Error(`${String(type)} is an invalid volume type`);
  }
}
