/**
 * The real probe actions against real endpoints on 127.0.0.1 (HTTP, HTTPS with a
 * self-signed certificate, TCP) and a real busybox container for exec.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer as createHttp, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttps } from 'node:https';
import { createServer as createTcp, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { DockerRuntime } from '../runtime/docker.js';
import { MAX_BODY_BYTES, PROBE_USER_AGENT, execAction, httpGetAction, resolvePort, tcpAction } from './probe-handlers.js';
import { makeProber } from './probes.js';

const run = promisify(execFile);
const IMAGE = 'skiff.local/busybox:1.35';
const seen: IncomingMessage[] = [];
let http: Server;
let port = 0;
/** Requests the server holds without answering, ended in `after`. */
const held: ServerResponse[] = [];

function handler(req: IncomingMessage, res: ServerResponse): void {
  seen.push(req);
  const url = new URL(req.url ?? '/', 'http://x');
  switch (url.pathname) {
    case '/ok':
      res.end('healthy');
      return;
    case '/fail':
      res.writeHead(500).end('broken');
      return;
    case '/big':
      res.end('x'.repeat(200_000));
      return;
    case '/redirect':
      res.writeHead(302, { location: '/ok' }).end();
      return;
    case '/loop':
      res.writeHead(302, { location: '/loop' }).end();
      return;
    case '/elsewhere':
      // Another host name: not followed (and never contacted).
      res.writeHead(301, { location: `http://localhost:${port}/ok` }).end('moved');
      return;
    case '/hang':
      held.push(res);
      return;
    case '/stall':
      // Headers and a little body, then nothing.
      res.writeHead(200);
      res.write('partial');
      held.push(res);
      return;
    default:
      res.writeHead(404).end();
  }
}

before(async () => {
  http = createHttp(handler);
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  port = (http.address() as AddressInfo).port;
});

after(async () => {
  for (const r of held) r.destroy();
  http.closeAllConnections();
  await new Promise((resolve) => http.close(resolve));
});

const get = (path: string, timeoutMs = 2000, extra: object = {}) => httpGetAction({ scheme: 'HTTP', host: '127.0.0.1', port, path, ...extra }, timeoutMs);

test('httpGet: 2xx success with body, 5xx failure with the kubelet message', async () => {
  assert.deepEqual(await get('/ok'), { result: 'success', output: 'healthy' });
  assert.deepEqual(await get('/fail'), { result: 'failure', output: 'HTTP probe failed with statuscode: 500' });
  assert.deepEqual(await get('/missing'), { result: 'failure', output: 'HTTP probe failed with statuscode: 404' });
});

test('httpGet: user agent, accept and custom headers are sent; path defaults to /', async () => {
  seen.length = 0;
  await get('ok', 2000, { headers: [{ name: 'X-Probe', value: 'yes' }, { name: 'Host', value: 'app.local' }] });
  const h = seen[0].headers;
  assert.equal(seen[0].url, '/ok');
  assert.equal(h['user-agent'], PROBE_USER_AGENT);
  assert.equal(h.accept, '*/*');
  assert.equal(h['x-probe'], 'yes');
  assert.equal(h.host, 'app.local');
  seen.length = 0;
  await get('');
  assert.equal(seen[0].url, '/');
});

test('httpGet: same-host redirects followed, other hosts not, loops stopped after 10', async () => {
  assert.deepEqual(await get('/redirect'), { result: 'success', output: 'healthy' });
  seen.length = 0;
  const other = await get('/elsewhere');
  assert.equal(other.result, 'warning');
  assert.equal(other.output, 'Probe terminated redirects, Response body: moved');
  assert.equal(seen.length, 1);
  seen.length = 0;
  const loop = await get('/loop');
  assert.equal(loop.result, 'failure');
  assert.equal(loop.output, `Get "http://127.0.0.1:${port}/loop": stopped after 10 redirects`);
  assert.equal(seen.length, 10);
});

test('httpGet: body read limit, timeout, connection refused', async () => {
  const big = await get('/big');
  assert.equal(big.result, 'success');
  assert.equal(big.output.length, MAX_BODY_BYTES);
  const hang = await get('/hang', 300);
  assert.deepEqual(hang, { result: 'failure', output: `Get "http://127.0.0.1:${port}/hang": context deadline exceeded (Client.Timeout exceeded while awaiting headers)` });
  const stall = await get('/stall', 300);
  assert.deepEqual(stall, { result: 'failure', output: `Get "http://127.0.0.1:${port}/stall": net/http: request canceled (Client.Timeout or context cancellation while reading body)` });
  const closedPort = await freePort();
  const refused = await httpGetAction({ scheme: 'HTTP', host: '127.0.0.1', port: closedPort, path: '/' }, 1000);
  assert.deepEqual(refused, { result: 'failure', output: `Get "http://127.0.0.1:${closedPort}/": dial tcp 127.0.0.1:${closedPort}: connect: connection refused` });
});

test('httpGet over HTTPS with a self-signed certificate (not verified)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'skiff-probe-tls-'));
  const server = createHttps({}, handler);
  try {
    await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, 'key'), '-out', join(dir, 'crt'), '-days', '1', '-subj', '/CN=probe-test']);
    server.setSecureContext({ key: await readFile(join(dir, 'key')), cert: await readFile(join(dir, 'crt')) });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const p = (server.address() as AddressInfo).port;
    assert.deepEqual(await httpGetAction({ scheme: 'HTTPS', host: '127.0.0.1', port: p, path: '/ok' }, 2000), { result: 'success', output: 'healthy' });
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await rm(dir, { recursive: true, force: true });
  }
});

/** A port that was just free on 127.0.0.1 (bound then released). */
async function freePort(): Promise<number> {
  const s = createTcp();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const p = (s.address() as AddressInfo).port;
  await new Promise((resolve) => s.close(resolve));
  return p;
}

test('tcpSocket: connect is success, a closed port is refused', async () => {
  const s = createTcp((c) => c.destroy());
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  try {
    const p = (s.address() as AddressInfo).port;
    assert.deepEqual(await tcpAction('127.0.0.1', p, 1000), { result: 'success', output: '' });
  } finally {
    await new Promise((resolve) => s.close(resolve));
  }
  const closed = await freePort();
  assert.deepEqual(await tcpAction('127.0.0.1', closed, 1000), { result: 'failure', output: `dial tcp 127.0.0.1:${closed}: connect: connection refused` });
});

test('resolvePort: numbers, numeric strings, named container ports', () => {
  const c = { name: 'app', ports: [{ name: 'http', containerPort: 8080 }] };
  assert.equal(resolvePort(80, c), 80);
  assert.equal(resolvePort('81', c), 81);
  assert.equal(resolvePort('http', c), 8080);
  assert.throws(() => resolvePort('grpc', c), /couldn't find port: grpc in container app/);
});

test('prober: named port, grpc unsupported, podIP required', async () => {
  const prober = makeProber(new DockerRuntime({ sandboxImage: IMAGE }));
  const target = { pod: {}, container: { name: 'app', ports: [{ name: 'web', containerPort: port }] }, containerId: 'none', podIP: '127.0.0.1' };
  assert.deepEqual(await prober('readiness', { httpGet: { path: '/ok', port: 'web' } }, target, 1000), { result: 'success', output: 'healthy' });
  assert.equal((await prober('liveness', { tcpSocket: { port: 'web' } }, target, 1000)).result, 'success');
  assert.deepEqual(await prober('liveness', { grpc: { port: 9000 } }, target, 1000), { result: 'failure', output: 'gRPC probes are not supported by this node' });
  await assert.rejects(prober('liveness', { tcpSocket: { port: 80 } }, { ...target, podIP: undefined }, 1000), /pod has no IP yet/);
});

test('exec in a real busybox container: exit codes, output, timeout, env expansion', async () => {
  const runtime = new DockerRuntime({ sandboxImage: IMAGE });
  const { stdout } = await run('docker', ['run', '-d', '--network', 'none', '--label', 'skiff.test=probe-handlers', IMAGE, 'sleep', '600']);
  const id = stdout.trim();
  try {
    assert.deepEqual(await execAction(runtime, id, ['true'], 5000), { result: 'success', output: '' });
    const bad = await execAction(runtime, id, ['sh', '-c', 'echo not ready; exit 3'], 5000);
    assert.equal(bad.result, 'failure');
    assert.equal(bad.output.trim(), 'not ready');
    assert.deepEqual(await execAction(runtime, id, ['sleep', '30'], 500), { result: 'failure', output: 'command "sleep 30" timed out' });
    const prober = makeProber(runtime);
    const container = { name: 'app', env: [{ name: 'WANT', value: 'ok' }] };
    const r = await prober('readiness', { exec: { command: ['sh', '-c', 'test "$(WANT)" = ok'] } }, { pod: {}, container, containerId: id }, 5000);
    assert.equal(r.result, 'success');
  } finally {
    await run('docker', ['rm', '-f', id]);
  }
});
