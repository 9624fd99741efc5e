/**
 * The Debian packages the provisioning command installs on a node. `skiff install`
 * runs scripts/setup.sh, which apt-installs its `pkgs=(...)` list when any is
 * missing; a lab node cannot reach a mirror (its network is internal), so the
 * node image must already hold every one of them, and setup.sh then finds them
 * installed and moves on, exactly as on a provisioned VM. The list is read from
 * setup.sh itself, so the image follows it (and is rebuilt when it changes).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * The words of the `pkgs=( ... )` array in a bash script (comments and line
 * breaks allowed inside it). Pure. Throws when there is no such array.
 */
export function parsePkgsArray(script: string): string[] {
  const m = /^\s*pkgs=\(([^)]*)\)/m.exec(script);
  if (!m) throw new Error('scripts/setup.sh has no pkgs=(...) list');
  return m[1]!
    .split('\n')
    .map((l) => l.replace(/#.*/, ''))
    .join(' ')
    .split(/\s+/)
    .filter((w) => /^[a-z0-9][a-z0-9+.-]+$/.test(w));
}

/** setup.sh's packages, from the checkout at `root`. */
export async function installPackages(root: string): Promise<string[]> {
  return parsePkgsArray(await readFile(join(root, 'scripts', 'setup.sh'), 'utf8'));
}
