import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { StatusError } from '../../common/errors.js';
import { decodeProtobufObject } from './protobuf.js';
import { messageNames, messageSpec } from './protobuf-schema.js';

// A minimal protobuf writer for hand-built bodies.
const varintBytes = (v: bigint | number): number[] => {
  let x = BigInt.asUintN(64, BigInt(v));
  const out: number[] = [];
  do {
    const b = Number(x & 0x7fn);
    x >>= 7n;
    out.push(x ? b | 0x80 : b);
  } while (x);
  return out;
};
const tag = (num: number, wt: number): number[] => varintBytes(num * 8 + wt);
const vint = (num: number, v: bigint | number | boolean): number[] => [...tag(num, 0), ...varintBytes(typeof v === 'boolean' ? Number(v) : v)];
const len = (num: number, payload: number[] | Buffer): number[] => [...tag(num, 2), ...varintBytes(payload.length), ...payload];
const str = (num: number, s: string): number[] => len(num, Buffer.from(s, 'utf8'));
const msg = (num: number, ...fields: number[][]): number[] => len(num, fields.flat());
const entry = (num: number, k: string, v: number[] | string): number[] => msg(num, str(1, k), typeof v === 'string' ? str(2, v) : len(2, v));
const envelope = (apiVersion: string, kind: string, raw: number[], extra: number[] = []): Buffer =>
  Buffer.from([0x6b, 0x38, 0x73, 0x00, ...msg(1, str(1, apiVersion), str(2, kind)), ...len(2, raw), ...extra]);

/** What go-to-protobuf writes for an ObjectMeta with only a name: every non-pointer field, zeros included. */
const meta = (name: string, ...more: number[][]): number[] =>
  msg(1, str(1, name), str(2, ''), str(3, ''), str(4, ''), str(5, ''), str(6, ''), vint(7, 0), msg(8), ...more);

function statusOf(fn: () => unknown): StatusError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof StatusError, `expected a StatusError, got ${String(e)}`);
    return e;
  }
  assert.fail('expected an error');
}

describe('decodeProtobufObject', () => {
  it('decodes a Namespace, dropping omitempty zeros and the zero creationTimestamp', () => {
    const raw = [
      ...meta('foo', entry(11, 'team', 'a'), entry(11, 'tier', 'b'), entry(12, 'note', ''), str(14, 'example.com/x')),
      ...msg(2, str(1, 'kubernetes')),
      ...msg(3, str(1, '')),
    ];
    assert.deepEqual(decodeProtobufObject(envelope('v1', 'Namespace', raw)), {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: 'foo', labels: { team: 'a', tier: 'b' }, annotations: { note: '' }, finalizers: ['example.com/x'] },
      spec: { finalizers: ['kubernetes'] },
      status: {},
    });
  });

  it('renders a set creationTimestamp as RFC 3339 and ownerReferences with their required zeros', () => {
    const owner = msg(13, str(5, 'apps/v1'), str(1, 'ReplicaSet'), str(3, 'web-1'), str(4, ''), vint(6, true), vint(7, false));
    const raw = meta('foo', owner).slice(); // creationTimestamp 0 first, then a real one: last wins
    raw.push(...msg(1, msg(8, vint(1, 1700000000), vint(2, 5))));
    const o = decodeProtobufObject(envelope('v1', 'Namespace', raw)) as { metadata: Record<string, unknown> };
    assert.equal(o.metadata.creationTimestamp, '2023-11-14T22:13:20Z');
    assert.deepEqual(o.metadata.ownerReferences, [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-1', uid: '', controller: true, blockOwnerDeletion: false }]);
  });

  it('decodes a ConfigMap: data, binaryData as base64, and immutable=false (a pointer) kept', () => {
    const raw = [...meta('settings'), ...entry(2, 'mode', 'fast'), ...entry(2, 'empty', ''), ...entry(3, 'blob', [0xff, 0x00, 0x01]), ...vint(4, false)];
    assert.deepEqual(decodeProtobufObject(envelope('v1', 'ConfigMap', raw)), {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'settings' },
      data: { mode: 'fast', empty: '' },
      binaryData: { blob: Buffer.from([0xff, 0x00, 0x01]).toString('base64') },
      immutable: false,
    });
    // A key named __proto__ stays data, as JSON.parse would keep it, instead of reaching the prototype.
    const proto = decodeProtobufObject(envelope('v1', 'ConfigMap', [...meta('p'), ...entry(2, '__proto__', 'x')])) as { data: object };
    assert.deepEqual(Object.entries(proto.data), [['__proto__', 'x']]);
    assert.equal(Object.getPrototypeOf(proto.data), Object.prototype);
  });

  it('skips unknown fields of every wire type, at the top level and nested', () => {
    const unknowns = [
      ...vint(99, -1), // ten-byte varint
      ...tag(98, 1), 1, 2, 3, 4, 5, 6, 7, 8, // fixed64
      ...str(97, 'ignored'),
      ...tag(96, 5), 1, 2, 3, 4, // fixed32
      ...tag(95, 3), ...vint(1, 7), ...tag(2, 3), ...str(3, 'x'), ...tag(2, 4), ...tag(95, 4), // nested groups
    ];
    const raw = [...meta('settings', unknowns), ...unknowns, ...entry(2, 'k', 'v'), ...unknowns];
    assert.deepEqual(decodeProtobufObject(envelope('v1', 'ConfigMap', raw, unknowns)), {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'settings' },
      data: { k: 'v' },
    });
  });

  it('decodes IntOrString, Quantity, negative and packed integers, and inlined structs', () => {
    const container = msg(
      2,
      str(1, 'web'),
      str(2, 'nginx'),
      str(3, 'sh'),
      str(3, '-c'),
      msg(6, str(1, 'http'), vint(3, 8080)),
      msg(8, entry(1, 'cpu', str(1, '500m')), entry(2, 'memory', str(1, '64Mi'))),
      msg(7, str(1, 'CM'), msg(3, msg(3, msg(1, str(1, 'settings')), str(2, 'mode')))),
      msg(10, msg(1, msg(2, str(1, '/healthz'), msg(2, vint(1, 1), vint(2, 0), str(3, 'http')))), vint(3, 5)),
    );
    const spec = msg(
      2,
      container,
      msg(1, str(1, 'cache'), msg(2, msg(2, str(1, 'Memory')))),
      msg(1, str(1, 'cfg'), msg(2, msg(19, msg(1, str(1, 'settings')), vint(3, 0o644)))),
      vint(4, -1),
      msg(14, len(4, [...varintBytes(1000), ...varintBytes(2000)])),
      msg(22, str(1, 'k'), str(2, 'Exists'), str(3, ''), str(4, 'NoSchedule')),
    );
    const o = decodeProtobufObject(envelope('v1', 'Pod', [...meta('p'), ...spec])) as { spec: Record<string, unknown> };
    assert.deepEqual(o.spec, {
      containers: [
        {
          name: 'web',
          image: 'nginx',
          command: ['sh', '-c'],
          ports: [{ name: 'http', containerPort: 8080 }],
          resources: { limits: { cpu: '500m' }, requests: { memory: '64Mi' } },
          env: [{ name: 'CM', valueFrom: { configMapKeyRef: { name: 'settings', key: 'mode' } } }],
          livenessProbe: { httpGet: { path: '/healthz', port: 'http' }, timeoutSeconds: 5 },
        },
      ],
      volumes: [
        { name: 'cache', emptyDir: { medium: 'Memory' } },
        { name: 'cfg', configMap: { name: 'settings', defaultMode: 0o644 } },
      ],
      terminationGracePeriodSeconds: -1,
      securityContext: { supplementalGroups: [1000, 2000] },
      tolerations: [{ key: 'k', operator: 'Exists', effect: 'NoSchedule' }],
    });
  });

  it('decodes a Deployment body exactly as kubectl 1.32.4 sends it', () => {
    // `kubectl create deployment web --image=busybox --replicas=2 --port=80`, captured with -v=9.
    const body = Buffer.from(
      '6b3873000a150a07617070732f7631120a4465706c6f796d656e7412bc010a1f0a0377656212001a0022002a003200380042005a0a0a03617070120377656212' +
        '8a010802120c0a0a0a0361707012037765621a700a1c0a0012001a0022002a003200380042005a0a0a036170701203776562125012320a0762757379626f78' +
        '120762757379626f782a00320a0a001000185022002a0042006a007200800100880100900100a201001a00320042004a0052005800600068008201008a01009a' +
        '0100c2010022020a00280038001a0c0800100018002000280038001a002200',
      'hex',
    );
    assert.deepEqual(decodeProtobufObject(body), {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web', labels: { app: 'web' } },
      spec: {
        replicas: 2,
        selector: { matchLabels: { app: 'web' } },
        template: {
          metadata: { labels: { app: 'web' } },
          spec: { containers: [{ name: 'busybox', image: 'busybox', ports: [{ containerPort: 80 }], resources: {} }] },
        },
        strategy: {},
      },
      status: {},
    });
  });

  it('answers 400 for truncated input at every length, never another kind of error', () => {
    const full = envelope('v1', 'ConfigMap', [...meta('settings', entry(11, 'a', 'b')), ...entry(2, 'k', 'v'), ...entry(3, 'b', [1, 2])]);
    for (let n = 0; n < full.length; n++) {
      const cut = full.subarray(0, n);
      let decoded: unknown;
      try {
        decoded = decodeProtobufObject(cut);
      } catch (e) {
        assert.ok(e instanceof StatusError, `prefix ${n}: ${String(e)}`);
        assert.equal(e.code, 400, `prefix ${n}: ${e.message}`);
        continue;
      }
      // Only a cut exactly between envelope fields is still a valid (shorter) message.
      assert.deepEqual(decoded, { apiVersion: 'v1', kind: 'ConfigMap' }, `prefix ${n}`);
    }
    const midRaw = statusOf(() => decodeProtobufObject(full.subarray(0, full.length - 3)));
    assert.match(midRaw.message, /^invalid protobuf body: length \d+ at byte \d+ runs past the end of its message$/);
    const inMeta = envelope('v1', 'ConfigMap', [...tag(1, 2), 50, ...str(1, 'x')]);
    assert.match(statusOf(() => decodeProtobufObject(inMeta)).message, /runs past the end/);
    const inLabels = envelope('v1', 'ConfigMap', msg(1, [...tag(11, 2), 9, ...str(1, 'k')]));
    assert.match(statusOf(() => decodeProtobufObject(inLabels)).message, /at metadata\.labels: length 9/);
  });

  it('answers 400 for a missing prefix, an empty envelope, bad wire types and invalid tags', () => {
    for (const [body, why] of [
      [Buffer.from('{"kind":"ConfigMap"}'), /missing the "k8s\\x00" prefix/],
      [Buffer.from([0x6b, 0x38, 0x73, 0x00]), /names no apiVersion and kind/],
      [envelope('v1', 'ConfigMap', vint(1, 5)), /at metadata: wire type 0 for a message/],
      [envelope('v1', 'ConfigMap', meta('x', vint(1, 3))), /at metadata\.name: wire type 0 where str expects 2/],
      [envelope('v1', 'ConfigMap', [0x00, 0x00]), /field number 0/],
      [envelope('v1', 'ConfigMap', [...tag(9, 6), 0]), /invalid wire type 6/],
      [envelope('v1', 'ConfigMap', tag(9, 4)), /unexpected end-group/],
      [envelope('v1', 'ConfigMap', tag(9, 3)), /unterminated group 9/],
      [envelope('v1', 'ConfigMap', [...tag(9, 0), ...Array(11).fill(0xff)]), /varint longer than 10 bytes/],
    ] as const) {
      const e = statusOf(() => decodeProtobufObject(body));
      assert.equal(e.code, 400);
      assert.equal(e.reason, 'BadRequest');
      assert.match(e.message, why);
    }
  });

  it('answers 415 naming the kind for kinds without a field table, and for encoded raw', () => {
    const lease = statusOf(() => decodeProtobufObject(envelope('coordination.k8s.io/v1', 'Lease', meta('l'))));
    assert.equal(lease.code, 415);
    assert.equal(lease.reason, 'UnsupportedMediaType');
    assert.match(lease.message, /Lease \(coordination\.k8s\.io\/v1\)/);
    const gz = statusOf(() => decodeProtobufObject(envelope('v1', 'ConfigMap', meta('x'), str(3, 'gzip'))));
    assert.equal(gz.code, 415);
    assert.match(gz.message, /ConfigMap with contentEncoding "gzip"/);
  });

  it('never throws anything but a StatusError on mutated input', () => {
    const base = envelope('apps/v1', 'Deployment', [
      ...meta('web', entry(11, 'app', 'web')),
      ...msg(2, vint(1, 2), msg(2, entry(1, 'app', 'web')), msg(3, msg(2, msg(2, str(1, 'c'), str(2, 'busybox'), msg(6, vint(3, 80)))))),
    ]);
    let seed = 42;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    for (let i = 0; i < 3000; i++) {
      const b = Buffer.from(base);
      for (let k = 0; k <= rand(3); k++) b[4 + rand(b.length - 4)] = rand(256);
      try {
        decodeProtobufObject(b);
      } catch (e) {
        assert.ok(e instanceof StatusError, `mutation ${i}: ${String(e)}`);
        assert.ok(e.code === 400 || e.code === 415, `mutation ${i}: ${e.code}`);
      }
    }
  });

  it('has field tables that all compile and name only known messages', () => {
    for (const name of messageNames()) assert.ok(messageSpec(name).size >= 0);
  });
});
