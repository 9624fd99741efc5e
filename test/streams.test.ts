/**
 * `kubectl logs` and `kubectl exec` end to end: the real kubectl -> a real
 * `skiff server` -> the agent's HTTPS endpoint (startAgentServer, in process) ->
 * real busybox containers through Docker. The kubelet is not involved: a
 * PodLookup maps the test pods to containers started here, and the Node is
 * created through the API with 127.0.0.1, the agent's port and its fingerprint.
 * Every container, file and process made here is removed in `after`.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Docker from 'dockerode';
import { logger } from '../common/log.js';
import { dockerExec, dockerExecSync, dockerLogs } from '../agent/runtime/docker-streams.js';
import type { ContainerStatus, Runtime } from '../agent/runtime/types.js';
import { startAgentServer, type AgentServer, type PodLookup } from '../agent/server/index.js';
import { kubectl, kubectlOk, removeDir, run, startServer, waitFor, API_ONLY, type ServerProc } from './harness.js';

const IMAGE = 'skiff.local/busybox:1.35';
const NODE = 'streams-node';
const docker = new Docker();
const sh = promisify(execFile);

/** Starts a container straight through Docker (no network), remembered for cleanup. */
async function container(made: string[], script: string): Promise<string> {
  const c = await docker.createContainer({ Image: IMAGE, Cmd: ['sh', '-c', script], Labels: { 'skiff.io/test': 'streams' }, HostConfig: { NetworkMode: 'none' } });
  made.push(c.id);
  await c.start();
  return c.id;
}

/** The slice of the Runtime the agent server uses, wired straight to docker-streams. */
const runtime: Pick<Runtime, 'logs' | 'exec' | 'inspectContainer'> = {
  logs: (id, o, out, signal) => dockerLogs(docker, id, o, out, signal),
  exec: (id, cmd, o) => dockerExec(docker, id, cmd, o),
  async inspectContainer(id): Promise<ContainerStatus | undefined> {
    try {
      const i = await docker.getContainer(id).inspect();
      const l = i.Config.Labels ?? {};
      return {
        id: i.Id, pod: { uid: '', name: '', namespace: '' }, name: i.Name, attempt: 0, init: false, image: i.Config.Image, imageId: i.Image,
        state: i.State.Running ? 'running' : 'exited', createdAt: new Date(i.Created), pid: i.State.Pid, specHash: '', labels: l,
      };
    } catch (e) {
      if ((e as { statusCode?: number }).statusCode === 404) return undefined;
      throw e;
    }
  },
};

function pod(name: string, containers: string[]): string {
  return JSON.stringify({
    apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'default' },
    spec: { nodeName: NODE, containers: containers.map((c) => ({ name: c, image: IMAGE })) },
  });
}

/** A GET to the agent with the given client credentials; also returns the fingerprint the agent served. */
function agentGet(port: number, path: string, creds: { cert?: string; key?: string }): Promise<{ status: number; body: string; fingerprint: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'GET', rejectUnauthorized: false, agent: false, ...creds }, (res) => {
      const fingerprint = (res.socket as import('node:tls').TLSSocket).getPeerCertificate().fingerprint256.replace(/:/g, '').toLowerCase();
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, fingerprint }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('kubectl logs and exec through the API server and the agent', () => {
  let s: ServerProc;
  let agent: AgentServer;
  let agentDir: string;
  const made: string[] = [];
  const table = new Map<string, string>();
  let follower: string;
  const lookup: PodLookup = {
    async container(ns, p, c, previous) {
      const id = table.get(`${ns}/${p}/${c}/${previous}`);
      return id ? { id } : undefined;
    },
  };

  before(async () => {
    s = await startServer({ extraArgs: API_ONLY });
    agentDir = mkdtempSync(join(tmpdir(), 'skiff-streams-agent-'));
    const previous = await container(made, 'echo previous-run; exit 1');
    await docker.getContainer(previous).wait();
    const main = await container(made, 'echo line1; echo line2; sleep 0.2; echo line3; exec sleep 600');
    const side = await container(made, 'echo side-says-hi; exec sleep 600');
    follower = await container(made, 'echo start; i=0; while [ ! -f /tmp/stop ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done; echo done');
    table.set('default/web/main/false', main);
    table.set('default/web/main/true', previous);
    table.set('default/web/side/false', side);
    table.set('default/tail/ticker/false', follower);
    agent = await startAgentServer({ port: 0, host: '127.0.0.1', dataDir: agentDir, caCert: s.ca, runtime, lookup, summary: async () => ({ node: { nodeName: NODE } }), log: logger('agent-server') });
    const node = { apiVersion: 'v1', kind: 'Node', metadata: { name: NODE, annotations: { 'skiff.io/serving-cert-sha256': agent.fingerprint } }, status: { addresses: [{ type: 'InternalIP', address: '127.0.0.1' }], daemonEndpoints: { kubeletEndpoint: { Port: agent.port } } } };
    await kubectlOk(s, ['create', '-f', '-'], JSON.stringify(node));
    for (const p of [pod('web', ['main', 'side']), pod('tail', ['ticker']), pod('ghost', ['c'])]) await kubectlOk(s, ['create', '-f', '-'], p);
    await waitFor(async () => (await docker.getContainer(main).logs({ stdout: true, stderr: true })).toString().includes('line3'), 'main container output');
  });

  after(async () => {
    await agent?.close();
    await s?.stop();
    for (const id of made) await docker.getContainer(id).remove({ force: true }).catch(() => undefined);
    if (s) removeDir(s.dataDir);
    if (agentDir) removeDir(agentDir);
  });

  it('logs: the first container by default, another with -c, and unknown containers refused', async () => {
    const r = await kubectl(s, ['logs', 'web']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'line1\nline2\nline3\n');
    assert.match(r.stderr, /Defaulted container "main" out of: main, side/);
    assert.equal(await kubectlOk(s, ['logs', 'web', '-c', 'side']), 'side-says-hi\n');
    const bad = await kubectl(s, ['logs', 'web', '-c', 'nope']);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /container nope is not valid for pod web/);
    // Known to the API, unknown to the agent: the agent's 404 comes through.
    const ghost = await kubectl(s, ['logs', 'ghost']);
    assert.notEqual(ghost.code, 0);
    assert.match(ghost.stderr, /NotFound.*container "c" in pod "default\/ghost" not found on this node/);
  });

  it('logs --tail and --timestamps', async () => {
    assert.equal(await kubectlOk(s, ['logs', 'web', '-c', 'main', '--tail=1']), 'line3\n');
    const stamped = await kubectlOk(s, ['logs', 'web', '-c', 'main', '--timestamps', '--tail=2']);
    assert.match(stamped, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{1,9}Z line2\n\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{1,9}Z line3\n$/);
    assert.equal(await kubectlOk(s, ['logs', 'web', '-c', 'main', '--limit-bytes=8']), 'line1\nli');
  });

  it('logs --previous: the terminated instance, or the error kubelet gives when there is none', async () => {
    assert.equal(await kubectlOk(s, ['logs', 'web', '-c', 'main', '--previous']), 'previous-run\n');
    const r = await kubectl(s, ['logs', 'web', '-c', 'side', '--previous']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /Error from server \(BadRequest\): previous terminated container "side" in pod "web" not found/);
  });

  it('logs -f streams while the container runs and ends when it exits', async () => {
    const p = spawn('kubectl', ['--kubeconfig', s.kubeconfig, '--cache-dir', join(s.dataDir, 'kubectl-cache'), 'logs', '-f', 'tail'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    const exited = new Promise<number | null>((resolve) => p.on('close', (code) => resolve(code)));
    try {
      await waitFor(() => out.includes('start\n'), 'the first line through kubectl logs -f');
      assert.equal(p.exitCode, null, 'still following');
      const touched = await dockerExecSync(docker, follower, ['touch', '/tmp/stop'], 10_000);
      assert.equal(touched.exitCode, 0);
      const code = await Promise.race([exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 20_000))]);
      assert.equal(code, 0, err);
      assert.equal(out, 'start\ndone\n');
    } finally {
      if (p.exitCode === null) p.kill('SIGKILL');
    }
  });

  it('exec: stdout and stderr arrive separately', async () => {
    const r = await kubectl(s, ['exec', 'web', '-c', 'main', '--', 'sh', '-c', 'echo to-stdout; echo to-stderr >&2']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'to-stdout\n');
    assert.equal(r.stderr, 'to-stderr\n');
  });

  it('exec -i: piped input reaches the process and its end closes stdin', async () => {
    const r = await kubectl(s, ['exec', '-i', 'web', '-c', 'side', '--', 'tr', 'a-z', 'A-Z'], 'hello\nworld\n');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'HELLO\nWORLD\n');
  });

  it('exec: the exit code reaches the shell', async () => {
    const r = await kubectl(s, ['exec', 'web', '-c', 'main', '--', 'sh', '-c', 'exit 3']);
    assert.equal(r.code, 3);
    assert.match(r.stderr, /command terminated with exit code 3/);
    const shell = await run('sh', ['-c', `kubectl --kubeconfig ${s.kubeconfig} --cache-dir ${join(s.dataDir, 'kubectl-cache')} exec web -c main -- sh -c 'exit 7' 2>/dev/null; echo "rc=$?"`]);
    assert.equal(shell.stdout, 'rc=7\n');
  });

  it('exec: refusals name the real reason (unknown container, forbidden, unauthenticated)', async () => {
    const ghost = await kubectl(s, ['exec', 'ghost', '--', 'true']);
    assert.notEqual(ghost.code, 0);
    assert.match(ghost.stderr, /container "c" in pod "default\/ghost" not found on this node/);
    const nodeToken = (JSON.parse(readFileSync(join(s.dataDir, 'tokens.json'), 'utf8')) as { node: string }).node;
    const forbidden = await kubectl(s, ['--token', nodeToken, 'exec', 'web', '-c', 'main', '--', 'true']);
    assert.notEqual(forbidden.code, 0);
    assert.match(forbidden.stderr, /User "system:node" cannot create resource "pods\/exec"/);
    const anonymous = await kubectl(s, ['--token', 'not-a-token', 'exec', 'web', '-c', 'main', '--', 'true']);
    assert.notEqual(anonymous.code, 0);
    assert.match(anonymous.stderr, /Unauthorized/);
  });

  it('exec -t: a terminal sized like kubectl\'s', async () => {
    // kubectl only uses a TTY when its stdin is a terminal: `script` gives it one, sized 33x77.
    // The process may start before kubectl's first resize lands (as with kubelet): it polls for it, bounded.
    const inner = 'tty; i=0; while [ "$(stty size 2>/dev/null)" != "33 77" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done; stty size';
    const cmd = `stty rows 33 cols 77; kubectl --kubeconfig ${s.kubeconfig} --cache-dir ${join(s.dataDir, 'kubectl-cache')} exec -it web -c main -- sh -c '${inner}'`;
    const r = await run('script', ['-qec', cmd, '/dev/null']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /\/dev\/pts\/\d+\r\n/);
    assert.match(r.stdout, /33 77\r\n/);
  });

  it('the agent serves only the API server\'s client certificate', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'skiff-streams-certs-'));
    try {
      const pki = join(s.dataDir, 'pki');
      const good = { cert: readFileSync(join(pki, 'kubelet-client.crt'), 'utf8'), key: readFileSync(join(pki, 'kubelet-client.key'), 'utf8') };
      const ok = await agentGet(agent.port, '/healthz', good);
      assert.equal(ok.status, 200);
      assert.equal(ok.body, 'ok');
      assert.equal(ok.fingerprint, agent.fingerprint, 'the fingerprint exported is the certificate served');
      assert.deepEqual(JSON.parse((await agentGet(agent.port, '/stats/summary', good)).body), { node: { nodeName: NODE } });

      const none = await agentGet(agent.port, '/containerLogs/default/web/main', {});
      assert.equal(none.status, 401);
      assert.equal(JSON.parse(none.body).reason, 'Unauthorized');

      // Right name, wrong issuer: a self-signed certificate.
      await sh('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'self.key', '-out', 'self.crt', '-subj', '/CN=skiff-apiserver-kubelet-client', '-days', '1', '-addext', 'extendedKeyUsage=clientAuth'], { cwd: dir });
      const self = await agentGet(agent.port, '/containerLogs/default/web/main', { cert: readFileSync(join(dir, 'self.crt'), 'utf8'), key: readFileSync(join(dir, 'self.key'), 'utf8') });
      assert.equal(self.status, 401);

      // Right issuer, wrong name.
      writeFileSync(join(dir, 'client.ext'), 'extendedKeyUsage=clientAuth\n');
      await sh('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'other.key'], { cwd: dir });
      await sh('openssl', ['req', '-new', '-key', 'other.key', '-subj', '/CN=mallory', '-out', 'other.csr'], { cwd: dir });
      await sh('openssl', ['x509', '-req', '-in', 'other.csr', '-CA', join(pki, 'ca.crt'), '-CAkey', join(pki, 'ca.key'), '-CAserial', join(dir, 'ca.srl'), '-CAcreateserial', '-days', '1', '-extfile', 'client.ext', '-out', 'other.crt'], { cwd: dir });
      const other = await agentGet(agent.port, '/containerLogs/default/web/main', { cert: readFileSync(join(dir, 'other.crt'), 'utf8'), key: readFileSync(join(dir, 'other.key'), 'utf8') });
      assert.equal(other.status, 403);
      assert.match(JSON.parse(other.body).message, /user "mallory" may not use the agent API/);
    } finally {
      removeDir(dir);
    }
  });

  it('the API server refuses an agent whose certificate does not match the pinned fingerprint', async () => {
    const annotation = 'skiff.io/serving-cert-sha256';
    try {
      await kubectlOk(s, ['annotate', 'node', NODE, '--overwrite', `${annotation}=${'ab'.repeat(32)}`]);
      const logs = await kubectl(s, ['logs', 'web', '-c', 'main']);
      assert.notEqual(logs.code, 0);
      assert.match(logs.stderr, /does not match its published skiff\.io\/serving-cert-sha256/);
      const exec = await kubectl(s, ['exec', 'web', '-c', 'main', '--', 'echo', 'never']);
      assert.notEqual(exec.code, 0);
      assert.equal(exec.stdout, '');
      assert.match(exec.stderr, /does not match its published skiff\.io\/serving-cert-sha256/);

      await kubectlOk(s, ['annotate', 'node', NODE, `${annotation}-`]);
      const unpublished = await kubectl(s, ['logs', 'web', '-c', 'main']);
      assert.notEqual(unpublished.code, 0);
      assert.match(unpublished.stderr, /ServiceUnavailable.*node "streams-node" has not published its serving certificate/);
    } finally {
      await kubectlOk(s, ['annotate', 'node', NODE, '--overwrite', `${annotation}=${agent.fingerprint}`]);
    }
    assert.equal(await kubectlOk(s, ['logs', 'web', '-c', 'side']), 'side-says-hi\n');
  });
});
