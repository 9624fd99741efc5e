/**
 * The agent server on port 0 with real TLS (a cluster CA and the API server's
 * client certificate made by controlplane/apiserver/pki.ts), real Docker
 * containers behind docker-streams, and raw HTTPS / WebSocket clients for what
 * kubectl does not exercise (v4, SPDY refusal, limits, shutdown).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import { WebSocket } from 'ws';
import { ensureKubeletClientCert, ensurePki } from '../../controlplane/apiserver/pki.js';
import { logger } from '../../common/log.js';
import { dockerExec, dockerLogs } from '../runtime/docker-streams.js';
import type { ContainerStatus, Runtime } from '../runtime/types.js';
import { startAgentServer, type AgentServer } from './server.js';

const IMAGE = 'skiff.local/busybox:1.35';
const docker = new Docker();

const runtime: Pick<Runtime, 'logs' | 'exec' | 'inspectContainer'> = {
  logs: (id, o, out, signal) => dockerLogs(docker, id, o, out, signal),
  exec: (id, cmd, o) => dockerExec(docker, id, cmd, o),
  async inspectContainer(id) {
    try {
      const i = await docker.getContainer(id).inspect();
      return { id: i.Id, state: i.State.Running ? 'running' : 'exited' } as ContainerStatus;
    } catch {
      return undefined;
    }
  },
};

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

describe('agent server', () => {
  let dir: string;
  let creds: { cert: string; key: string };
  let srv: AgentServer;
  const made: string[] = [];
  const table = new Map<string, string>();
  let running: string;
  let silent: string;
  let stopped: string;
  const lookup = { container: async (ns: string, p: string, c: string, prev: boolean) => (table.get(`${ns}/${p}/${c}/${prev}`) ? { id: table.get(`${ns}/${p}/${c}/${prev}`)! } : undefined) };
  let caCert: string;

  const get = (path: string, method = 'GET', headers: Record<string, string> = {}): Promise<Reply> =>
    new Promise((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: srv.port, path, method, headers, rejectUnauthorized: false, agent: false, ...creds }, (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      });
      req.on('error', reject);
      req.end();
    });

  const start = async (script: string): Promise<string> => {
    const c = await docker.createContainer({ Image: IMAGE, Cmd: ['sh', '-c', script], Labels: { 'skiff.io/test': 'agent-server' }, HostConfig: { NetworkMode: 'none' } });
    made.push(c.id);
    await c.start();
    return c.id;
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'skiff-agent-server-'));
    const pki = await ensurePki(join(dir, 'server'), []);
    creds = await ensureKubeletClientCert(pki);
    caCert = pki.caCert;
    running = await start('echo one; echo two; echo three; exec sleep 600');
    silent = await start('exec sleep 600');
    stopped = await start('echo bye');
    await docker.getContainer(stopped).wait();
    table.set('ns/p/app/false', running);
    table.set('ns/p/quiet/false', silent);
    table.set('ns/p/done/false', stopped);
    table.set('ns/p/gone/false', 'no-such-container-id');
    srv = await startAgentServer({
      port: 0,
      host: '127.0.0.1',
      dataDir: join(dir, 'agent'),
      caCert,
      runtime,
      lookup,
      log: logger('agent-server-test'),
    });
    // Wait until the running container has printed everything.
    const end = Date.now() + 10_000;
    while (!(await docker.getContainer(running).logs({ stdout: true })).toString().includes('three') && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  });

  after(async () => {
    await srv?.close();
    for (const id of made) await docker.getContainer(id).remove({ force: true }).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves logs as chunked text/plain with tailLines and limitBytes', async () => {
    const r = await get('/containerLogs/ns/p/app');
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], 'text/plain');
    assert.equal(r.headers['transfer-encoding'], 'chunked');
    assert.equal(r.body, 'one\ntwo\nthree\n');
    assert.equal((await get('/containerLogs/ns/p/app?tailLines=2')).body, 'two\nthree\n');
    assert.equal((await get('/containerLogs/ns/p/app?limitBytes=6')).body, 'one\ntw');
  });

  it('answers errors as Status JSON: 404 unknown, 400 previous and bad parameters, 405, 503', async () => {
    const unknown = await get('/containerLogs/ns/p/nope');
    assert.equal(unknown.status, 404);
    assert.equal(JSON.parse(unknown.body).kind, 'Status');
    const prev = await get('/containerLogs/ns/p/app?previous=true');
    assert.equal(prev.status, 400);
    assert.equal(JSON.parse(prev.body).message, 'previous terminated container "app" in pod "p" not found');
    assert.equal((await get('/containerLogs/ns/other/app?previous=true')).status, 404);
    assert.equal((await get('/containerLogs/ns/p/gone')).status, 404);
    assert.equal((await get('/containerLogs/ns/p/app?tailLines=-3')).status, 400);
    assert.equal((await get('/containerLogs/ns/p/app', 'POST')).status, 405);
    assert.equal((await get('/nothing/here')).status, 404);
    assert.equal((await get('/stats/summary')).status, 503);
    const plain = await get('/exec/ns/p/app?command=true&stdout=1');
    assert.equal(plain.status, 400);
    assert.match(JSON.parse(plain.body).message, /Upgrade request required/);
  });

  it('sends log headers at once when following, and close() ends the stream', async () => {
    const { port } = srv;
    const headersSeen = new Promise<{ status: number; ended: Promise<void> }>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: '/containerLogs/ns/p/quiet?follow=true', rejectUnauthorized: false, agent: false, ...creds }, (res) => {
        res.resume();
        const ended = new Promise<void>((r) => res.on('close', () => r()));
        resolve({ status: res.statusCode ?? 0, ended });
      });
      req.on('error', reject);
      req.end();
    });
    const { status, ended } = await headersSeen;
    assert.equal(status, 200, 'headers arrive though the container printed nothing');
    // A second server keeps the suite's other tests independent of this shutdown.
    await srv.close();
    await ended;
    srv = await startAgentServer({ port: 0, host: '127.0.0.1', dataDir: join(dir, 'agent'), caCert, runtime, lookup });
  });

  /** Runs an exec over a WebSocket and collects frames per channel until the server closes. */
  const execWs = (query: string, protocols: string[], send: (ws: WebSocket) => void = () => undefined): Promise<{ protocol: string; frames: Buffer[]; code: number }> =>
    new Promise((resolve, reject) => {
      const ws = new WebSocket(`wss://127.0.0.1:${srv.port}/exec/ns/p/app?${query}`, protocols, { rejectUnauthorized: false, ...creds });
      const frames: Buffer[] = [];
      ws.on('open', () => send(ws));
      ws.on('message', (d) => frames.push(d as Buffer));
      ws.on('close', (code) => resolve({ protocol: ws.protocol, frames, code }));
      ws.on('error', reject);
    });
  const channel = (frames: Buffer[], ch: number): string => frames.filter((f) => f[0] === ch).map((f) => f.subarray(1).toString()).join('');

  it('execs over v4.channel.k8s.io: the opening frame, output, status and close 1000', async () => {
    const r = await execWs('command=sh&command=-c&command=echo+out%3B+echo+err+>%262%3B+exit+4&stdout=true&stderr=true', ['v4.channel.k8s.io']);
    assert.equal(r.protocol, 'v4.channel.k8s.io');
    assert.deepEqual(r.frames[0], Buffer.from([1]), 'an empty stdout frame first');
    assert.equal(channel(r.frames, 1), 'out\n');
    assert.equal(channel(r.frames, 2), 'err\n');
    const status = JSON.parse(channel(r.frames, 3));
    assert.equal(status.reason, 'NonZeroExitCode');
    assert.equal(status.details.causes[0].message, '4');
    assert.equal(r.code, 1000);
  });

  it('execs over v5 with stdin closed by the [255, 0] frame', async () => {
    const r = await execWs('command=wc&command=-c&stdin=true&stdout=true&stderr=true', ['v5.channel.k8s.io', 'v4.channel.k8s.io'], (ws) => {
      ws.send(Buffer.concat([Buffer.from([0]), Buffer.from('12345')]));
      ws.send(Buffer.from([255, 0]));
    });
    assert.equal(r.protocol, 'v5.channel.k8s.io');
    assert.equal(channel(r.frames, 1).trim(), '5');
    assert.deepEqual(JSON.parse(channel(r.frames, 3)), { metadata: {}, status: 'Success' });
  });

  it('reports an exec into a stopped container on the status channel', async () => {
    const r = await new Promise<{ frames: Buffer[] }>((resolve, reject) => {
      const ws = new WebSocket(`wss://127.0.0.1:${srv.port}/exec/ns/p/done?command=true&stdout=1`, ['v5.channel.k8s.io'], { rejectUnauthorized: false, ...creds });
      const frames: Buffer[] = [];
      ws.on('message', (d) => frames.push(d as Buffer));
      ws.on('close', () => resolve({ frames }));
      ws.on('error', reject);
    });
    const status = JSON.parse(channel(r.frames, 3));
    assert.equal(status.status, 'Failure');
    assert.match(status.message, /not running/);
  });

  it('refuses upgrades it cannot serve, after finding the container', async () => {
    const spdy = { connection: 'Upgrade', upgrade: 'SPDY/3.1', 'x-stream-protocol-version': 'v4.channel.k8s.io' };
    const unknown = await get('/exec/ns/p/nope?command=true&stdout=1', 'POST', spdy);
    assert.equal(unknown.status, 404, 'the unknown container wins over the protocol');
    const known = await get('/exec/ns/p/app?command=true&stdout=1', 'POST', spdy);
    assert.equal(known.status, 400);
    assert.match(JSON.parse(known.body).message, /not SPDY/);
    const noProtocol = await get('/exec/ns/p/app?command=true&stdout=1', 'GET', { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', 'sec-websocket-protocol': 'channel.k8s.io' });
    assert.equal(noProtocol.status, 400);
    assert.match(JSON.parse(noProtocol.body).message, /no supported WebSocket subprotocol/);
  });
});
