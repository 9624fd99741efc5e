import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createTcp, type AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { FakeClock } from '../../common/clock.js';
import { DockerRuntime } from '../runtime/docker.js';
import type { Runtime } from '../runtime/types.js';
import { formatPod, hookEventReason, runHook, type HookContext } from './hooks.js';

const run = promisify(execFile);
const IMAGE = 'skiff.local/busybox:1.35';
const pod = { metadata: { name: 'web', namespace: 'prod', uid: 'u-1' } };
const container = { name: 'app', ports: [{ name: 'admin', containerPort: 0 }] };
let runtime: Runtime;
let containerId = '';
let server: Server;
let port = 0;
const requests: IncomingMessage[] = [];

before(async () => {
  runtime = new DockerRuntime({ sandboxImage: IMAGE });
  const { stdout } = await run('docker', ['run', '-d', '--network', 'none', '--label', 'skiff.test=hooks', IMAGE, 'sleep', '600']);
  containerId = stdout.trim();
  server = createServer((req, res) => {
    requests.push(req);
    res.writeHead(req.url === '/fail' ? 500 : 200).end('done');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
  container.ports[0].containerPort = port;
});

after(async () => {
  if (containerId) await run('docker', ['rm', '-f', containerId]);
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const ctx = (extra: Partial<HookContext> = {}): HookContext => ({ runtime, containerId, podIP: '127.0.0.1', timeoutMs: 5000, pod, container, ...extra });

test('formatPod and event reasons', () => {
  assert.equal(formatPod(pod), 'web_prod(u-1)');
  assert.equal(hookEventReason('postStart'), 'FailedPostStartHook');
  assert.equal(hookEventReason('preStop'), 'FailedPreStopHook');
});

test('exec hook in a real container: success has effect, failure has the kubelet message', async () => {
  assert.deepEqual(await runHook({ exec: { command: ['sh', '-c', 'echo started > /tmp/hook'] } }, ctx()), { ok: true });
  const check = await runtime.execSync(containerId, ['cat', '/tmp/hook'], 5000);
  assert.equal(check.output.trim(), 'started');
  const r = await runHook({ exec: { command: ['sh', '-c', 'echo oops; exit 3'] } }, ctx());
  assert.equal(r.ok, false);
  assert.ok(!r.ok);
  assert.equal(r.message, `Exec lifecycle hook ([sh -c echo oops; exit 3]) for Container "app" in Pod "web_prod(u-1)" failed - error: command 'sh -c echo oops; exit 3' exited with 3: , message: "oops\\n"`);
  const slow = await runHook({ exec: { command: ['sleep', '30'] } }, ctx({ timeoutMs: 500 }));
  assert.ok(!slow.ok);
  assert.match(slow.message, /^Exec lifecycle hook \(\[sleep 30\]\) .* failed - error: command 'sleep 30' timed out after 500ms, message: ""$/);
});

test('exec hook in a container that is gone is a failure, not a rejection', async () => {
  const r = await runHook({ exec: { command: ['true'] } }, ctx({ containerId: 'no-such-container-skiff' }));
  assert.ok(!r.ok);
  assert.match(r.message, /^Exec lifecycle hook \(\[true\]\) for Container "app" in Pod "web_prod\(u-1\)" failed - error: /);
});

test('httpGet hook: any status is success, named port and headers, refused is a failure', async () => {
  requests.length = 0;
  assert.deepEqual(await runHook({ httpGet: { path: '/fail', port: 'admin', httpHeaders: [{ name: 'X-Hook', value: 'pre' }] } }, ctx()), { ok: true });
  assert.equal(requests[0].url, '/fail');
  assert.equal(requests[0].headers['x-hook'], 'pre');
  assert.equal(requests[0].headers['user-agent'], 'kube-lifecycle/1.32');
  const s = createTcp();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const closed = (s.address() as AddressInfo).port;
  await new Promise((resolve) => s.close(resolve));
  const r = await runHook({ httpGet: { path: '/stop', port: closed } }, ctx());
  assert.ok(!r.ok);
  assert.equal(
    r.message,
    `HTTP lifecycle hook (/stop) for Container "app" in Pod "web_prod(u-1)" failed - error: Get "http://127.0.0.1:${closed}/stop": dial tcp 127.0.0.1:${closed}: connect: connection refused`,
  );
  const noIP = await runHook({ httpGet: { path: '/x', port } }, ctx({ podIP: undefined }));
  assert.ok(!noIP.ok);
});

test('sleep hook: completes on the clock, cut short by the timeout or by the kill signal', async () => {
  const clock = new FakeClock(0);
  const done = runHook({ sleep: { seconds: 5 } }, ctx({ clock }));
  clock.advance(5000);
  assert.deepEqual(await done, { ok: true });

  const cut = runHook({ sleep: { seconds: 30 } }, ctx({ clock, timeoutMs: 2000 }));
  clock.advance(2000);
  const r = await cut;
  assert.ok(!r.ok);
  assert.equal(r.message, 'Sleep lifecycle hook (30) for Container "app" in Pod "web_prod(u-1)" failed - error: container terminated before sleep hook finished');

  const ac = new AbortController();
  const killed = runHook({ sleep: { seconds: 10 } }, ctx({ clock, signal: ac.signal }));
  ac.abort();
  assert.equal((await killed).ok, false);
  assert.equal(clock.pending(), 0);
});

test('an empty handler cannot run', async () => {
  const r = await runHook({}, ctx());
  assert.deepEqual(r, { ok: false, error: 'invalid handler: {}', message: 'Cannot run handler: invalid handler: {}' });
});
