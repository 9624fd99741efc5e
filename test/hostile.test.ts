/**
 * Hostile and careless input against a real server: every bad request gets the
 * right 4xx Status, the server stays up, the store stays consistent, and no
 * acknowledged write is lost, even to kill -9 in the middle of a load.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { API_ONLY, http, removeDir, startServer, type ServerProc } from './harness.js';

const cm = (name: string, extra: Record<string, unknown> = {}): string =>
  JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name }, data: { k: 'v' }, ...extra });

function assertStatus(r: { status: number; json(): any }, code: number, reason: string, message?: RegExp): void { // eslint-disable-line @typescript-eslint/no-explicit-any
  assert.equal(r.status, code, `expected ${code}, got ${r.status}`);
  const b = r.json();
  assert.equal(b.kind, 'Status');
  assert.equal(b.apiVersion, 'v1');
  assert.equal(b.status, 'Failure');
  assert.equal(b.code, code);
  assert.equal(b.reason, reason);
  if (message) assert.match(b.message, message);
}

describe('hostile input', () => {
  let s: ServerProc;
  const base = '/api/v1/namespaces/default/configmaps';
  before(async () => {
    s = await startServer({ extraArgs: API_ONLY });
  });
  after(async () => {
    await s.stop();
    removeDir(s.dataDir);
  });

  it('answers 401 without a token, except on health endpoints', async () => {
    assertStatus(await http(s, 'GET', '/api/v1/namespaces', undefined, {}, false), 401, 'Unauthorized');
    assertStatus(await http(s, 'GET', '/api/v1/namespaces', undefined, { authorization: 'Bearer wrong' }, false), 401, 'Unauthorized');
    for (const p of ['/healthz', '/livez', '/readyz']) assert.equal((await http(s, 'GET', p, undefined, {}, false)).status, 200);
    const verbose = await http(s, 'GET', '/readyz?verbose', undefined, {}, false);
    assert.match(verbose.body, /^\[\+\]store ok$/m);
    assert.match(verbose.body, /^readyz check passed$/m);
  });

  it('rejects malformed JSON and YAML with 400', async () => {
    assertStatus(await http(s, 'POST', base, '{"apiVersion": "v1", "kind": '), 400, 'BadRequest');
    assertStatus(await http(s, 'POST', base, 'kind: [unclosed', { 'content-type': 'application/yaml' }), 400, 'BadRequest');
    assertStatus(await http(s, 'POST', base, '[1,2,3]'), 400, 'BadRequest');
    assertStatus(await http(s, 'POST', base, ''), 400, 'BadRequest');
  });

  it('rejects the wrong kind or apiVersion with 400, and garbage protobuf with 400', async () => {
    assertStatus(await http(s, 'POST', base, JSON.stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'x' } })), 400, 'BadRequest', /kind in the data \(Secret\) does not match the expected kind \(ConfigMap\)/);
    assertStatus(await http(s, 'POST', base, JSON.stringify({ apiVersion: 'apps/v1', kind: 'ConfigMap', metadata: { name: 'x' } })), 400, 'BadRequest', /API version in the data \(apps\/v1\)/);
    assertStatus(await http(s, 'POST', base, Buffer.from([0x6b, 0x38, 0x73, 0]), { 'content-type': 'application/vnd.kubernetes.protobuf' }), 400, 'BadRequest');
  });

  it('caps bodies at 3 MiB with 413', async () => {
    const big = cm('big', { data: { k: 'x'.repeat(4 * 1024 * 1024) } });
    assertStatus(await http(s, 'POST', base, big), 413, 'RequestEntityTooLarge');
  });

  it('rejects invalid names with 422 and field causes', async () => {
    const r = await http(s, 'POST', base, cm('Bad_Name'));
    assertStatus(r, 422, 'Invalid', /ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name"/);
    assert.equal(r.json().details.causes[0].field, 'metadata.name');
    assertStatus(await http(s, 'POST', base, JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: {} })), 422, 'Invalid', /name or generateName is required/);
  });

  it('handles unknown fields by fieldValidation: Strict 400, Warn header, Ignore silent', async () => {
    const body = cm('fv', { dataa: { x: 'y' } });
    assertStatus(await http(s, 'POST', `${base}?fieldValidation=Strict`, body), 400, 'BadRequest', /strict decoding error: unknown field "dataa"/);
    const w = await http(s, 'POST', `${base}?fieldValidation=Warn`, body);
    assert.equal(w.status, 201);
    assert.match(String(w.headers.warning), /unknown field \\"dataa\\"/);
    const i = await http(s, 'POST', `${base}?fieldValidation=Ignore`, cm('fv2', { dataa: {} }));
    assert.equal(i.status, 201);
    assert.equal(i.headers.warning, undefined);
  });

  it('rejects selector garbage with 400', async () => {
    assertStatus(await http(s, 'GET', `${base}?labelSelector=${encodeURIComponent('a in (')}`), 400, 'BadRequest');
    assertStatus(await http(s, 'GET', `${base}?labelSelector=${encodeURIComponent('=x')}`), 400, 'BadRequest');
    assertStatus(await http(s, 'GET', `${base}?fieldSelector=${encodeURIComponent('spec.nope=1')}`), 400, 'BadRequest');
    assertStatus(await http(s, 'GET', `${base}?limit=abc`), 400, 'BadRequest');
  });

  it('answers 404 for missing objects, namespaces and resources, and 405 for wrong verbs', async () => {
    assertStatus(await http(s, 'GET', `${base}/nope`), 404, 'NotFound', /configmaps "nope" not found/);
    assertStatus(await http(s, 'POST', '/api/v1/namespaces/nowhere/configmaps', cm('x')), 404, 'NotFound', /namespaces "nowhere" not found/);
    assertStatus(await http(s, 'GET', '/api/v1/widgets'), 404, 'NotFound');
    assertStatus(await http(s, 'POST', `${base}/x`, cm('x')), 405, 'MethodNotAllowed');
    assertStatus(await http(s, 'DELETE', '/api/v1/namespaces/default'), 403, 'Forbidden', /may not be deleted/);
  });

  it('refuses a stale update with 409 Conflict', async () => {
    const created = (await http(s, 'POST', base, cm('stale'))).json();
    const first = await http(s, 'PUT', `${base}/stale`, JSON.stringify({ ...created, data: { k: 'one' } }));
    assert.equal(first.status, 200);
    const second = await http(s, 'PUT', `${base}/stale`, JSON.stringify({ ...created, data: { k: 'two' } }));
    assertStatus(second, 409, 'Conflict', /Operation cannot be fulfilled on configmaps "stale": the object has been modified/);
    assert.equal((await http(s, 'GET', `${base}/stale`)).json().data.k, 'one');
  });

  it('loses no update among 50 concurrent writers on one object', async () => {
    await http(s, 'POST', base, cm('counter', { data: { n: '0' } }));
    let conflicts = 0;
    await Promise.all(
      Array.from({ length: 50 }, async () => {
        for (;;) {
          const cur = (await http(s, 'GET', `${base}/counter`)).json();
          const next = { ...cur, data: { n: String(Number(cur.data.n) + 1) } };
          const r = await http(s, 'PUT', `${base}/counter`, JSON.stringify(next));
          if (r.status === 200) return;
          assertStatus(r, 409, 'Conflict');
          conflicts++;
        }
      }),
    );
    const final = (await http(s, 'GET', `${base}/counter`)).json();
    assert.equal(final.data.n, '50');
    assert.ok(conflicts > 0, 'concurrent writers should have collided at least once');
    assert.equal((await http(s, 'GET', '/healthz', undefined, {}, false)).status, 200);
  });

  it('keeps every acknowledged write across kill -9 in the middle of a load', async () => {
    const acked: string[] = [];
    let stop = false;
    const writers = Array.from({ length: 8 }, async (_, w) => {
      for (let i = 0; !stop; i++) {
        const name = `load-${w}-${i}`;
        try {
          const r = await http(s, 'POST', base, cm(name));
          if (r.status === 201) acked.push(name);
        } catch {
          return; // the connection died with the server
        }
      }
    });
    // Kill once enough writes are acknowledged (a count, not a timer).
    await new Promise<void>((resolve) => {
      const check = (): void => (acked.length >= 300 ? resolve() : void setImmediate(check));
      check();
    });
    await s.kill9();
    stop = true;
    await Promise.all(writers);
    s = await startServer({ dataDir: s.dataDir, port: s.port, extraArgs: API_ONLY });
    const list = (await http(s, 'GET', `${base}?labelSelector=`)).json();
    const names = new Set((list.items as { metadata: { name: string } }[]).map((i) => i.metadata.name));
    const lost = acked.filter((n) => !names.has(n));
    assert.deepEqual(lost, [], `acknowledged writes lost: ${lost.length} of ${acked.length}`);
  });
});
