/**
 * docker-streams against the real Docker daemon and a busybox container, plus
 * the frame demuxer on its own. Every container made here is removed in `after`.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import Docker from 'dockerode';
import { DockerFrameDemuxer, dockerExec, dockerExecSync, dockerLogs } from './docker-streams.js';

const IMAGE = 'skiff.local/busybox:1.35';
const docker = new Docker();
const made: string[] = [];

function frame(stream: number, text: string): Buffer {
  const payload = Buffer.from(text);
  const h = Buffer.alloc(8);
  h[0] = stream;
  h.writeUInt32BE(payload.length, 4);
  return Buffer.concat([h, payload]);
}

async function run(cmd: string[], tty = false): Promise<string> {
  const c = await docker.createContainer({ Image: IMAGE, Cmd: cmd, Tty: tty, Labels: { 'skiff.io/test': 'docker-streams' }, HostConfig: { NetworkMode: 'none' } });
  made.push(c.id);
  await c.start();
  return c.id;
}

class Collect extends Writable {
  chunks: Buffer[] = [];
  override _write(chunk: Buffer, _e: BufferEncoding, cb: () => void): void {
    this.chunks.push(chunk);
    cb();
  }
  get text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}

async function logsOf(id: string, opts: Parameters<typeof dockerLogs>[2] = {}): Promise<string> {
  const out = new Collect();
  await dockerLogs(docker, id, opts, out);
  return out.text;
}

/** Reads a stream to its end. */
async function readAll(s: NodeJS.ReadableStream | undefined): Promise<string> {
  if (!s) return '';
  let text = '';
  for await (const c of s) text += c.toString();
  return text;
}

async function waitExited(id: string): Promise<void> {
  await docker.getContainer(id).wait();
}

describe('DockerFrameDemuxer', () => {
  it('reassembles frames split at every possible offset, in order', () => {
    const whole = Buffer.concat([frame(1, 'hello\n'), frame(2, 'oops\n'), frame(1, ''), frame(1, 'bye\n')]);
    for (let cut = 0; cut <= whole.length; cut++) {
      const d = new DockerFrameDemuxer();
      const frames = [...d.push(whole.subarray(0, cut)), ...d.push(whole.subarray(cut))];
      assert.equal(frames.filter((f) => f.stream === 1).map((f) => f.data.toString()).join(''), 'hello\nbye\n', `cut ${cut}`);
      assert.equal(frames.filter((f) => f.stream === 2).map((f) => f.data.toString()).join(''), 'oops\n', `cut ${cut}`);
      assert.equal(d.atBoundary, true);
    }
  });

  it('reports a stream cut mid-frame', () => {
    const d = new DockerFrameDemuxer();
    d.push(frame(1, 'hello').subarray(0, 10));
    assert.equal(d.atBoundary, false);
  });
});

describe('dockerLogs / dockerExec / dockerExecSync with busybox', () => {
  let sleeper: string;
  before(async () => {
    sleeper = await run(['sleep', '600']);
  });
  after(async () => {
    for (const id of made) await docker.getContainer(id).remove({ force: true }).catch(() => undefined);
  });

  it('demultiplexes a non-tty log: stdout and stderr, tail, timestamps, since', async () => {
    // The pause orders "three" last: Docker reads stdout and stderr through separate pipes.
    const id = await run(['sh', '-c', 'echo one; echo two >&2; sleep 0.2; echo three']);
    await waitExited(id);
    const all = await logsOf(id);
    assert.deepEqual(all.split('\n').filter(Boolean).sort(), ['one', 'three', 'two']);
    assert.ok(all.indexOf('one') < all.indexOf('three'));
    assert.equal(await logsOf(id, { tail: 1 }), 'three\n');
    assert.equal(await logsOf(id, { tail: 0 }), '');
    const stamped = await logsOf(id, { timestamps: true, tail: 1 });
    assert.match(stamped, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z three\n$/);
    assert.equal(await logsOf(id, { since: Math.floor(Date.now() / 1000) + 3600 }), '');
  });

  it('copies a tty container log as is (not multiplexed)', async () => {
    const id = await run(['sh', '-c', 'echo tty-line'], true);
    await waitExited(id);
    assert.equal(await logsOf(id), 'tty-line\r\n');
  });

  it('follows a running container until the signal aborts, then resolves', async () => {
    const id = await run(['sh', '-c', 'echo first; exec sleep 600']);
    const out = new Collect();
    const ac = new AbortController();
    const done = dockerLogs(docker, id, { follow: true }, out, ac.signal);
    const end = Date.now() + 10_000;
    while (!out.text.includes('first') && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    assert.equal(out.text, 'first\n');
    ac.abort();
    await done;
  });

  it('follow ends by itself when the container exits', async () => {
    const id = await run(['sh', '-c', 'echo a; sleep 0.3; echo b']);
    const out = new Collect();
    await dockerLogs(docker, id, { follow: true }, out);
    assert.equal(out.text, 'a\nb\n');
  });

  it('rejects for a missing container with statusCode 404', async () => {
    await assert.rejects(logsOf('skiff-no-such-container'), (e: { statusCode?: number }) => e.statusCode === 404);
  });

  it('execs with separate stdout and stderr and the exit code', async () => {
    const s = await dockerExec(docker, sleeper, ['sh', '-c', 'echo out; echo err >&2; exit 3'], { stdout: true, stderr: true });
    const [o, e, code] = await Promise.all([readAll(s.stdout), readAll(s.stderr), s.exitCode]);
    assert.equal(o, 'out\n');
    assert.equal(e, 'err\n');
    assert.equal(code, 3);
    assert.equal(s.stdin, undefined);
  });

  it('feeds stdin and closes it on end (the process sees EOF)', async () => {
    const s = await dockerExec(docker, sleeper, ['tr', 'a-z', 'A-Z'], { stdin: true, stdout: true, stderr: true });
    s.stdin!.write('hello ');
    s.stdin!.end('world\n');
    const [o, code] = await Promise.all([readAll(s.stdout), s.exitCode, readAll(s.stderr)]);
    assert.equal(o, 'HELLO WORLD\n');
    assert.equal(code, 0);
  });

  it('runs with a tty: one stream, resize applies', async () => {
    const s = await dockerExec(docker, sleeper, ['sh', '-c', 'read x; stty size; tty'], { stdin: true, stdout: true, tty: true });
    assert.equal(s.stderr, undefined);
    await s.resize(100, 40);
    s.stdin!.write('go\n');
    const [o, code] = await Promise.all([readAll(s.stdout), s.exitCode]);
    assert.match(o, /40 100\r\n/);
    assert.match(o, /\/dev\/pts\/\d+/);
    assert.equal(code, 0);
  });

  it('reports a missing executable through the output and exit code 126/127', async () => {
    const s = await dockerExec(docker, sleeper, ['no-such-binary'], {});
    const [o, code] = await Promise.all([readAll(s.stdout), s.exitCode, readAll(s.stderr)]);
    assert.match(o, /executable file not found/);
    assert.ok(code === 126 || code === 127, `exit code ${code}`);
  });

  it('execSync returns output and exit code, and gives up after the timeout', async () => {
    const ok = await dockerExecSync(docker, sleeper, ['sh', '-c', 'echo probe-ok; echo warn >&2; exit 1'], 10_000);
    assert.equal(ok.timedOut, false);
    assert.equal(ok.exitCode, 1);
    assert.match(ok.output, /probe-ok\n/);
    assert.match(ok.output, /warn\n/);
    const t0 = Date.now();
    const slow = await dockerExecSync(docker, sleeper, ['sh', '-c', 'echo started; sleep 30'], 500);
    assert.equal(slow.timedOut, true);
    assert.equal(slow.exitCode, -1);
    assert.ok(Date.now() - t0 < 5_000, 'timeout honoured');
  });

  it('refuses exec in a stopped container', async () => {
    const id = await run(['true']);
    await waitExited(id);
    await assert.rejects(dockerExec(docker, id, ['true'], {}), /not running/);
  });
});
