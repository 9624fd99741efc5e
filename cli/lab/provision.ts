/**
 * Provisioning lab nodes with THE provisioning command, `skiff install` (cli/install.ts),
 * exactly as the Vagrantfile does on VMs: nothing here installs units or writes
 * configuration a second way. The lab only chooses the arguments (pure:
 * `installArgs`) and runs the command in the node with `docker exec`, from the
 * read-only checkout at /opt/skiff.
 */
import { API_PORT, LAB_API_URL, LAB_SERVER_SETTINGS, SERVER_IP, SRC_MOUNT, type LabNode } from './plan.js';
import { LabError, nodeExec, nodeTry, tail, waitUntil } from './exec.js';

/** Where the server keeps its state in a node (the install default). */
export const SERVER_DATA_DIR = '/var/lib/skiff/server';

/**
 * `skiff install` arguments for `node`; agents need the server's join token. Pure.
 * The server node also runs an agent (install's default for --role server). The
 * checkout is mounted at the prefix (/opt/skiff), so install uses it in place.
 */
export function installArgs(node: LabNode, joinToken?: string): string[] {
  if (node.role === 'server') {
    return [
      'install', '--role', 'server',
      '--node-ip', node.ip,
      '--advertise-address', SERVER_IP,
      `--server-args=--node-monitor-grace-period ${LAB_SERVER_SETTINGS.nodeMonitorGracePeriod} --default-toleration-seconds ${LAB_SERVER_SETTINGS.defaultTolerationSeconds}`,
    ];
  }
  if (!joinToken) throw new Error(`agent node ${node.name} needs the join token`);
  return ['install', '--role', 'agent', '--server', LAB_API_URL, '--token', joinToken, '--node-ip', node.ip];
}

/** The systemd units the provisioning command installs, per role. Pure. */
export function unitsOf(node: LabNode): string[] {
  return node.role === 'server' ? ['skiff-server.service', 'skiff-agent.service'] : ['skiff-agent.service'];
}

/** True when every unit of the node's role is active (provisioned and running). */
export async function provisioned(node: LabNode): Promise<boolean> {
  const r = await nodeTry(node.name, ['systemctl', 'is-active', ...unitsOf(node)]);
  return r.code === 0;
}

/**
 * Runs `skiff install` in the node; each line it prints goes to `say` (prefixed
 * with the node's name). On failure the error carries its last lines and the
 * units' journal.
 */
export async function provision(node: LabNode, joinToken: string | undefined, say?: (line: string) => void): Promise<void> {
  let output = '';
  let partial = '';
  const onOutput = (b: Buffer): void => {
    output += b.toString();
    partial += b.toString();
    const lines = partial.split('\n');
    partial = lines.pop() ?? '';
    for (const l of lines) if (l.trim()) say?.(`${node.name}: ${l.trim()}`);
  };
  try {
    await nodeExec(node.name, [`${SRC_MOUNT}/bin/skiff`, ...installArgs(node, joinToken)], { onOutput, timeoutMs: 5 * 60_000 });
  } catch (err) {
    const journal = await nodeTry(node.name, ['journalctl', '--no-pager', '-n', '15', ...unitsOf(node).flatMap((u) => ['-u', u])]);
    throw new LabError(`provisioning ${node.name} failed: ${(err as Error).message}\n  install output: ${tail(output, 8)}\n  journal: ${tail(journal.stdout, 6)}`);
  }
}

/** Waits until the API server answers /readyz on the server node. */
export async function waitApiServer(server: LabNode, timeoutMs = 90_000): Promise<void> {
  await waitUntil(
    `the API server on ${server.name}`,
    async () => (await nodeTry(server.name, ['curl', '-sfk', '-o', '/dev/null', `https://127.0.0.1:${API_PORT}/readyz`])).code === 0,
    timeoutMs,
  );
}

/** The full join token the server wrote (`K10<ca-hash>::<secret>`). */
export async function joinToken(server: LabNode): Promise<string> {
  const t = (await nodeExec(server.name, ['cat', `${SERVER_DATA_DIR}/node-token`])).trim();
  if (!t) throw new LabError(`${SERVER_DATA_DIR}/node-token on ${server.name} is empty`);
  return t;
}
