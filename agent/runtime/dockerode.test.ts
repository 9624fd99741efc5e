import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));

/** Runs a script in a fresh node process (the require cache is per process) and returns its JSON answer. */
function fresh(script: string): Record<string, unknown> {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: here, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

const mod = JSON.stringify(new URL('./dockerode.js', import.meta.url).href);

test('a Docker client loads neither gRPC nor ssh2', () => {
  const r = fresh(`
    const { connectDocker, loadedForReal, DEFERRED } = await import(${mod});
    const d = connectDocker();
    console.log(JSON.stringify({ socket: d.modem.socketPath, loaded: DEFERRED.filter(([id, from]) => loadedForReal(id, from)).map(([id]) => id) }));
  `);
  assert.equal(r.socket, '/var/run/docker.sock');
  assert.deepEqual(r.loaded, []);
});

test('a deferred module loads for real when used, and works', () => {
  const r = fresh(`
    const { connectDocker, loadedForReal } = await import(${mod});
    const { createRequire } = await import('node:module');
    connectDocker();
    const req = createRequire(${JSON.stringify(here)} + '/');
    const path = req.resolve('ssh2', { paths: [req('node:path').dirname(req.resolve('docker-modem'))] });
    const ssh2 = req(path);
    const before = loadedForReal('ssh2', 'docker-modem');
    const client = new ssh2.Client();
    const grpc = req(req.resolve('@grpc/grpc-js', { paths: [req('node:path').dirname(req.resolve('dockerode'))] }));
    console.log(JSON.stringify({ before, after: loadedForReal('ssh2', 'docker-modem'), connect: typeof client.connect, server: typeof grpc.Server, grpc: loadedForReal('@grpc/grpc-js', 'dockerode') }));
  `);
  assert.deepEqual(r, { before: false, after: true, connect: 'function', server: 'function', grpc: true });
});
