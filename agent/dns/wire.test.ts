import { test } from 'node:test';
import assert from 'node:assert/strict';
import dnsPacket from 'dns-packet';
import type { Answer, OptAnswer, Packet, RecordType } from 'dns-packet';
import { sampleCluster, service, slice, viewOf } from './fixtures.js';
import type { ZoneOptions } from './resolve.js';
import { answerQuery } from './wire.js';

const Z: ZoneOptions = { domain: 'cluster.local', ttl: 5 };
const view = sampleCluster();

function query(name: string, type: string, extra: Partial<Packet> = {}): Buffer {
  return dnsPacket.encode({ type: 'query', id: 4242, flags: dnsPacket.RECURSION_DESIRED, questions: [{ name, type: type as RecordType, class: 'IN' }], ...extra });
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const decode = (b: Buffer | undefined): any => {
  assert.ok(b, 'an answer was sent');
  return dnsPacket.decode(b);
};

test('a query is answered with its id, QR, AA, RD echoed and the question echoed', () => {
  const r = decode(answerQuery(query('web.default.svc.cluster.local', 'A'), view, Z, 'udp'));
  assert.equal(r.id, 4242);
  assert.equal(r.type, 'response');
  assert.equal(r.flag_aa, true);
  assert.equal(r.flag_rd, true);
  assert.equal(r.flag_tc, false);
  assert.equal(r.rcode, 'NOERROR');
  assert.deepEqual(r.questions, [{ name: 'web.default.svc.cluster.local', type: 'A', class: 'IN' }]);
  assert.deepEqual(r.answers.map((a: Answer) => [a.type, (a as { data: unknown }).data, (a as { ttl: number }).ttl]), [['A', '10.96.5.5', 5]]);
});

test('NXDOMAIN carries the SOA; REFUSED for outside names is not authoritative', () => {
  const nx = decode(answerQuery(query('nope.default.svc.cluster.local', 'A'), view, Z, 'udp'));
  assert.equal(nx.rcode, 'NXDOMAIN');
  assert.equal(nx.authorities[0].type, 'SOA');
  assert.equal(nx.authorities[0].data.minimum, 5);
  const out = decode(answerQuery(query('example.com', 'A'), view, Z, 'udp'));
  assert.equal(out.rcode, 'REFUSED');
  assert.equal(out.flag_aa, false);
  assert.equal(out.answers.length, 0);
});

test('responses and runts are dropped; undecodable queries get FORMERR, other opcodes NOTIMP', () => {
  const resp = dnsPacket.encode({ type: 'response', id: 1, questions: [{ name: 'web.default.svc.cluster.local', type: 'A' }] });
  assert.equal(answerQuery(resp, view, Z, 'udp'), undefined);
  assert.equal(answerQuery(Buffer.from([1, 2, 3]), view, Z, 'udp'), undefined);
  const q = query('web.default.svc.cluster.local', 'A');
  const cut = q.subarray(0, q.length - 3);
  const fe = decode(answerQuery(cut, view, Z, 'udp'));
  assert.equal(fe.id, 4242);
  assert.equal(fe.rcode, 'FORMERR');
  const status = Buffer.from(q);
  status.writeUInt16BE((2 << 11) | 0x0100, 2);
  assert.equal(decode(answerQuery(status, view, Z, 'udp')).rcode, 'NOTIMP');
  const two = dnsPacket.encode({ type: 'query', id: 7, questions: [{ name: 'a.cluster.local', type: 'A' }, { name: 'b.cluster.local', type: 'A' }] });
  assert.equal(decode(answerQuery(two, view, Z, 'udp')).rcode, 'FORMERR');
  const none = dnsPacket.encode({ type: 'query', id: 8, questions: [] });
  assert.equal(decode(answerQuery(none, view, Z, 'udp')).rcode, 'FORMERR');
});

const opt = (udpPayloadSize: number, ednsVersion = 0): OptAnswer => ({ name: '.', type: 'OPT', udpPayloadSize, extendedRcode: 0, ednsVersion, flags: 0, flag_do: false, options: [] });

test('EDNS: an OPT gets an OPT back (payload 1232); version 1 gets BADVERS', () => {
  const r = decode(answerQuery(query('web.default.svc.cluster.local', 'A', { additionals: [opt(4096)] }), view, Z, 'udp'));
  const o = r.additionals.find((a: Answer) => a.type === 'OPT');
  assert.equal(o.udpPayloadSize, 1232);
  assert.equal(r.answers.length, 1);
  const bad = decode(answerQuery(query('web.default.svc.cluster.local', 'A', { additionals: [opt(4096, 1)] }), view, Z, 'udp'));
  const bo = bad.additionals.find((a: Answer) => a.type === 'OPT');
  // BADVERS = 16: 0 in the header's 4 bits, 1 in the OPT's extended rcode.
  assert.equal(bad.rcode, 'NOERROR');
  assert.equal(bo.extendedRcode, 1);
  assert.equal(bad.answers.length, 0);
});

/** A headless service with `n` ready endpoints. */
function bigView(n: number) {
  const eps = Array.from({ length: n }, (_, i) => ({ ip: `10.244.${Math.floor(i / 250)}.${(i % 250) + 1}` }));
  return viewOf([service('default', 'big', { clusterIP: 'None' })], [slice('default', 'big', 'big-1', eps)]);
}

test('truncation: over 512 bytes without EDNS sets TC over UDP; TCP and EDNS carry it whole', () => {
  const v = bigView(20);
  const q = query('big.default.svc.cluster.local', 'A');
  const whole = decode(answerQuery(q, v, Z, 'tcp'));
  assert.equal(whole.answers.length, 20);
  assert.equal(whole.flag_tc, false);
  assert.ok(dnsPacket.encode(whole).length > 512, 'the test answer is larger than 512 bytes');
  const udp = answerQuery(q, v, Z, 'udp')!;
  assert.ok(udp.length <= 512);
  const t = decode(udp);
  assert.equal(t.flag_tc, true);
  assert.equal(t.answers.length, 0);
  assert.deepEqual(t.questions, whole.questions);
  const edns = decode(answerQuery(query('big.default.svc.cluster.local', 'A', { additionals: [opt(1232)] }), v, Z, 'udp'));
  assert.equal(edns.flag_tc, false);
  assert.equal(edns.answers.length, 20);
  // A client announcing less than 512 still gets 512.
  assert.equal(decode(answerQuery(query('big.default.svc.cluster.local', 'A', { additionals: [opt(100)] }), v, Z, 'udp')).flag_tc, true);
});

test('over TCP an answer beyond 65,535 bytes is cut to fit, with TC set', () => {
  const v = bigView(2000);
  const out = answerQuery(query('big.default.svc.cluster.local', 'A'), v, Z, 'tcp')!;
  assert.ok(out.length <= 65535);
  const r = decode(out);
  assert.equal(r.flag_tc, true);
  assert.ok(r.answers.length > 1000 && r.answers.length < 2000, `${r.answers.length} answers`);
});

test('fuzz: random and mutated messages never throw; every answer decodes and echoes the id', () => {
  let seed = 12345;
  const rnd = (n: number): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed % n;
  };
  const base = query('_http._tcp.web.default.svc.cluster.local', 'SRV', { additionals: [opt(1232)] });
  let answered = 0;
  for (let i = 0; i < 5000; i++) {
    let b: Buffer;
    if (i % 2) {
      b = Buffer.from(Array.from({ length: rnd(80) }, () => rnd(256)));
    } else {
      b = Buffer.from(base);
      for (let k = 0; k < 1 + rnd(4); k++) b[rnd(b.length)] = rnd(256);
      if (rnd(4) === 0) b = b.subarray(0, rnd(b.length));
    }
    const out = answerQuery(b, view, Z, i % 3 ? 'udp' : 'tcp');
    if (!out) continue;
    answered++;
    const r = dnsPacket.decode(out);
    assert.equal(r.id, b.readUInt16BE(0));
    assert.equal(r.type, 'response');
  }
  assert.ok(answered > 1000, `${answered} answered`);
});
