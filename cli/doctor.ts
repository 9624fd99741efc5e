/**
 * `skiff doctor`: one line per check, each failure with its fix. The node's checks
 * (Docker, cgroups, iptables, bridge, CNI plugin, tools) live with the agent's host
 * layer, in agent/host/checks.ts.
 */
import { execFileSync } from 'node:child_process';
import { createServer } from 'node:net';
import { hostChecks, type CheckResult } from '../agent/host/checks.js';

interface Check {
  name: string;
  required: boolean;
  /** A problem with its fix; undefined, or `{ info }` to show a detail, when fine. */
  run(): Promise<CheckResult>;
}

function has(cmd: string, args: string[] = ['--version']): string | undefined {
  try {
    execFileSync(cmd, args, { stdio: 'ignore', timeout: 10_000 });
    return undefined;
  } catch {
    return `${cmd} not found or not working`;
  }
}

const checks: Check[] = [
  {
    name: 'Node.js >= 20',
    required: true,
    async run() {
      const major = Number(process.versions.node.split('.')[0]);
      return major >= 20 ? undefined : `Node.js ${process.versions.node} is too old: install Node.js 20`;
    },
  },
  { name: 'openssl', required: true, run: async () => (has('openssl', ['version']) ? 'install it: apt-get install -y openssl' : undefined) },
  { name: 'kubectl', required: false, run: async () => (has('kubectl', ['version', '--client']) ? 'kubectl is not on PATH: install kubectl 1.32 to talk to the cluster' : undefined) },
  {
    name: 'API port 6443 free or ours',
    required: false,
    async run() {
      return new Promise((resolve) => {
        const s = createServer();
        s.once('error', () => resolve('port 6443 is in use: if it is not a running skiff server, stop what holds it or pass --port'));
        s.listen(6443, '127.0.0.1', () => s.close(() => resolve(undefined)));
      });
    },
  },
  {
    name: 'running as root',
    required: false,
    run: async () => (process.getuid?.() === 0 ? undefined : 'run as root (sudo): the server writes /etc/skiff and /var/lib/skiff'),
  },
  ...hostChecks,
];

export async function runDoctor(): Promise<number> {
  let failed = false;
  for (const c of checks) {
    const problem = await c.run().catch((err: Error) => `the check itself failed: ${err.message}`);
    if (!problem) process.stdout.write(`ok    ${c.name}\n`);
    else if (typeof problem === 'object') process.stdout.write(`ok    ${c.name} (${problem.info})\n`);
    else {
      process.stdout.write(`${c.required ? 'FAIL' : 'warn'}  ${c.name}: ${problem}\n`);
      if (c.required) failed = true;
    }
  }
  return failed ? 1 : 0;
}
