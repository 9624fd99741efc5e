/** The openssl CLI, for certificates (no hand-rolled ASN.1): the control plane's PKI and the agent's serving certificate. */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Runs `openssl <args>` in `cwd`; rejects with openssl's last stderr line. */
export async function openssl(args: string[], cwd: string): Promise<void> {
  try {
    await run('openssl', args, { cwd });
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`openssl ${args[0]} failed: ${(err.stderr ?? err.message).trim().split('\n').pop()}`);
  }
}
