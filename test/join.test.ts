/**
 * Joining with the k3s-style token, end to end: a real `skiff server` writes
 * <data-dir>/node-token (`K10<ca-sha256>::<secret>`) and serves its CA at the
 * unauthenticated /cacerts; resolveJoin fetches and verifies it; a real `skiff
 * agent` given only --server and --token-file (no CA file) registers its Node.
 * The server runs without controllers, so the agent never gets a podCIDR and
 * never writes the host's CNI config (test/agent.test.ts owns that).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'node:https';
import { ApiClient } from '../controlplane/controllers/client.js';
import { caHash, formatJoinToken, parseJoinToken } from '../common/jointoken.js';
import { resolveJoin } from '../agent/bootstrap.js';
import { AGENT_ENV, AGENT_NODE_FLAGS } from '../agent/settings.js';
import { API_ONLY, CLI, removeDir, startServer, waitFor, type ServerProc } from './harness.js';

/** GET without credentials and without verifying the server: what a joining agent can do. */
function getAnonymous(port: number, path: string): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, rejectUnauthorized: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('joining with a K10 token', { timeout: 180_000 }, () => {
  let s: ServerProc;
  let tokenFile: string;

  before(async () => {
    s = await startServer({ extraArgs: API_ONLY });
    tokenFile = join(s.dataDir, 'node-token');
  });

  after(async () => {
    await s?.stop();
    if (s) removeDir(s.dataDir);
  });

  it('the server writes <data-dir>/node-token, 0600, naming its CA and its node secret', () => {
    const st = statSync(tokenFile);
    assert.equal(st.mode & 0o777, 0o600);
    const text = readFileSync(tokenFile, 'utf8');
    const secret = (JSON.parse(readFileSync(join(s.dataDir, 'tokens.json'), 'utf8')) as { node: string }).node;
    assert.equal(text, `${formatJoinToken(s.ca, secret)}\n`);
    assert.deepEqual(parseJoinToken(text), { caHash: caHash(s.ca), secret });
  });

  it('serves its CA at /cacerts to anyone, byte for byte; everything else still needs a token', async () => {
    const r = await getAnonymous(s.port, '/cacerts');
    assert.equal(r.status, 200);
    assert.equal(r.body.toString('utf8'), s.ca);
    assert.equal(caHash(r.body), parseJoinToken(readFileSync(tokenFile, 'utf8')).caHash);
    assert.equal((await getAnonymous(s.port, '/api/v1/nodes')).status, 401);
  });

  it('resolveJoin trusts the served CA only when it matches the token, and the secret then authenticates', async () => {
    const creds = await resolveJoin({ server: s.url, token: readFileSync(tokenFile, 'utf8') });
    assert.equal(creds.ca, s.ca);
    const api = new ApiClient(creds);
    try {
      const nodes = await api.list('/api/v1/nodes');
      assert.equal(nodes.kind, 'NodeList');
    } finally {
      api.close();
    }
    const secret = parseJoinToken(readFileSync(tokenFile, 'utf8')).secret;
    const forged = `K10${'0'.repeat(64)}::${secret}`;
    await assert.rejects(resolveJoin({ server: s.url, token: forged }), /does not match the join token/);
  });

  it('a real agent joins with --server and --token-file only', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'skiff-join-agent-'));
    const nodeName = `skiff-join-${process.pid}`;
    const args = [CLI, 'agent', '--server', s.url, '--token-file', tokenFile, '--node-name', nodeName, '--node-ip', '127.0.0.1', '--data-dir', dataDir, '--port', '0', '--pod-manifest-path', join(dataDir, 'manifests'), '--log-level', 'warn'];
    const proc = spawn(process.execPath, [...AGENT_NODE_FLAGS, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...AGENT_ENV, SKIFF_NO_SETUP: '1' } });
    let out = '';
    proc.stdout.on('data', (d) => (out += d));
    proc.stderr.on('data', (d) => (out += d));
    const exited = new Promise<void>((r) => proc.once('exit', () => r()));
    try {
      await waitFor(() => {
        if (proc.exitCode !== null) throw new Error(`agent exited with ${proc.exitCode}:\n${out}`);
        return /skiff agent ready/.test(out);
      }, 'the agent ready', 90_000);
      const admin = new ApiClient({ server: s.url, ca: s.ca, token: s.token });
      try {
        const n = await admin.get(`/api/v1/nodes/${nodeName}`);
        assert.equal(n.metadata.name, nodeName);
        await admin.request('DELETE', `/api/v1/nodes/${nodeName}`);
      } finally {
        admin.close();
      }
    } finally {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      await exited;
      removeDir(dataDir);
    }
  });
});
