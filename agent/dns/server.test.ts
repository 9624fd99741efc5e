import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import dnsPacket from 'dns-packet';
import { logger } from '../../common/log.js';
import { buildQuery, exchangeTcp, exchangeUdp, query } from './client.js';
import { sampleCluster, service, slice, viewOf } from './fixtures.js';
import { startDnsServer, type DnsServer } from './server.js';

const Z = { domain: 'cluster.local', ttl: 5 };

describe('DNS server on 127.0.0.1 (real UDP and TCP sockets)', () => {
  let srv: DnsServer;
  let big: DnsServer;
  const at = (s: DnsServer) => ({ server: '127.0.0.1', port: s.port, timeoutMs: 3000 });

  before(async () => {
    srv = await startDnsServer({ addresses: ['127.0.0.1'], port: 0, view: sampleCluster(), zone: Z, log: logger('dns-test'), tcpIdleMs: 500 });
    const eps = Array.from({ length: 40 }, (_, i) => ({ ip: `10.244.1.${i + 1}` }));
    big = await startDnsServer({ addresses: ['127.0.0.1'], port: 0, view: viewOf([service('default', 'big', { clusterIP: 'None' })], [slice('default', 'big', 'b', eps)]), zone: Z, log: logger('dns-test') });
  });

  after(async () => {
    await srv?.close();
    await big?.close();
  });

  test('UDP and TCP answer the same A query on the same port', async () => {
    assert.ok(srv.port > 0);
    for (const tcp of [false, true]) {
      const r = await query('web.default.svc.cluster.local', 'A', { ...at(srv), tcp });
      assert.equal(r.rcode, 'NOERROR');
      assert.deepEqual(r.answers?.map((a) => (a as { data: unknown }).data), ['10.96.5.5']);
    }
    assert.ok(srv.stats.udp >= 1 && srv.stats.tcp >= 1);
  });

  test('NXDOMAIN, NODATA and REFUSED over the wire', async () => {
    assert.equal((await query('nope.default.svc.cluster.local', 'A', at(srv))).rcode, 'NXDOMAIN');
    const nodata = await query('web.default.svc.cluster.local', 'AAAA', at(srv));
    assert.equal(nodata.rcode, 'NOERROR');
    assert.equal(nodata.answers?.length, 0);
    assert.equal(nodata.authorities?.[0]?.type, 'SOA');
    assert.equal((await query('example.com', 'A', at(srv))).rcode, 'REFUSED');
  });

  test('a large answer is truncated over UDP and complete over TCP (the client retry path)', async () => {
    const udp = await query('big.default.svc.cluster.local', 'A', at(big));
    assert.equal(udp.flag_tc, true);
    assert.equal(udp.answers?.length, 0);
    const tcp = await query('big.default.svc.cluster.local', 'A', { ...at(big), tcp: true });
    assert.equal(tcp.flag_tc, false);
    assert.equal(tcp.answers?.length, 40);
  });

  test('TCP: several pipelined queries on one connection, split across writes, answered in order', async () => {
    const names = ['web.default.svc.cluster.local', 'db.default.svc.cluster.local', 'nope.default.svc.cluster.local'];
    const msgs = names.map((n, i) => buildQuery(n, 'A', { id: 100 + i }));
    const stream = Buffer.concat(msgs.map((m) => Buffer.concat([Buffer.from([m.length >> 8, m.length & 255]), m])));
    const answers = await new Promise<number[]>((resolve, reject) => {
      const s = connect({ host: '127.0.0.1', port: srv.port });
      const ids: number[] = [];
      let buf = Buffer.alloc(0);
      const timer = setTimeout(() => (s.destroy(), reject(new Error('timeout'))), 3000);
      s.on('error', reject);
      s.on('connect', () => {
        // Byte by byte for the first message: framing must not depend on write boundaries.
        for (let i = 0; i < 20; i++) s.write(stream.subarray(i, i + 1));
        s.write(stream.subarray(20));
      });
      s.on('data', (d: Buffer) => {
        buf = Buffer.concat([buf, d]);
        while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
          ids.push(dnsPacket.decode(buf.subarray(2, 2 + buf.readUInt16BE(0))).id!);
          buf = buf.subarray(2 + buf.readUInt16BE(0));
        }
        if (ids.length === 3) {
          clearTimeout(timer);
          s.destroy();
          resolve(ids);
        }
      });
    });
    assert.deepEqual(answers, [100, 101, 102]);
  });

  test('garbage is dropped or FORMERR, and the server keeps answering', async () => {
    // A runt: no answer at all (bounded wait).
    const sock = createSocket('udp4');
    let got = false;
    sock.on('message', () => (got = true));
    await new Promise<void>((r) => sock.send(Buffer.from([1, 2, 3]), srv.port, '127.0.0.1', () => r()));
    const fe = dnsPacket.decode(await exchangeUdp(Buffer.from([0xab, 0xcd, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 5, 0x41]), at(srv)));
    assert.equal(fe.id, 0xabcd);
    assert.equal((fe as { rcode?: string }).rcode, 'FORMERR');
    const tcpFe = dnsPacket.decode(await exchangeTcp(Buffer.from([0, 9, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 63]), at(srv)));
    assert.equal((tcpFe as { rcode?: string }).rcode, 'FORMERR');
    assert.equal((await query('web.default.svc.cluster.local', 'A', at(srv))).rcode, 'NOERROR');
    sock.close();
    assert.equal(got, false, 'a runt gets no answer');
  });

  test('an idle TCP connection is closed by the server', async () => {
    const closed = await new Promise<boolean>((resolve) => {
      const s = connect({ host: '127.0.0.1', port: srv.port });
      const timer = setTimeout(() => (s.destroy(), resolve(false)), 3000);
      s.on('close', () => (clearTimeout(timer), resolve(true)));
      s.on('error', () => undefined);
    });
    assert.equal(closed, true);
  });

  test('a port in use is a clear error, and nothing stays bound', async () => {
    await assert.rejects(
      startDnsServer({ addresses: ['127.0.0.1'], port: srv.port, view: sampleCluster(), zone: Z, log: logger('dns-test') }),
      /cluster DNS cannot listen on port \d+ of 127\.0\.0\.1: EADDRINUSE/,
    );
    assert.equal((await query('web.default.svc.cluster.local', 'A', at(srv))).rcode, 'NOERROR');
  });
});
