/**
 * A minimal DNS client over dns-packet, for tests, the benchmark and
 * diagnostics: one question to one server, over UDP or TCP, with a deadline.
 * Never retries and never falls back from UDP to TCP on its own (callers test
 * exactly that), and talks only to the address it is given.
 */
import { createSocket } from 'node:dgram';
import { connect, isIPv6 } from 'node:net';
import dnsPacket from 'dns-packet';
import type { DecodedPacket, OptAnswer, Packet, RecordType } from 'dns-packet';

export interface QueryOptions {
  server: string;
  port: number;
  timeoutMs?: number;
  /** Announce EDNS with this UDP payload size. */
  edns?: number;
  id?: number;
}

export type DnsResponse = DecodedPacket & { rcode?: string };

export function buildQuery(name: string, type: string, o: Pick<QueryOptions, 'edns' | 'id'> = {}): Buffer {
  const p: Packet = {
    type: 'query',
    id: o.id ?? Math.floor(Math.random() * 65536),
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ name, type: type as RecordType, class: 'IN' }],
  };
  if (o.edns) p.additionals = [{ name: '.', type: 'OPT', udpPayloadSize: o.edns, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] } as OptAnswer];
  return dnsPacket.encode(p);
}

/** Sends raw bytes over UDP and resolves with the first datagram back (raw). */
export function exchangeUdp(msg: Buffer, o: QueryOptions): Promise<Buffer> {
  const sock = createSocket(isIPv6(o.server) ? 'udp6' : 'udp4');
  return new Promise<Buffer>((resolve, reject) => {
    const timer = setTimeout(() => finish(new Error(`no UDP answer from ${o.server}:${o.port} within ${o.timeoutMs ?? 2000} ms`)), o.timeoutMs ?? 2000);
    let done = false;
    function finish(err?: Error, b?: Buffer): void {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.close();
      if (err) reject(err);
      else resolve(b!);
    }
    sock.on('error', (e) => finish(e));
    sock.on('message', (b) => finish(undefined, b));
    sock.send(msg, o.port, o.server);
  });
}

/** Sends one length-prefixed message over a new TCP connection and resolves with the answer (raw). */
export function exchangeTcp(msg: Buffer, o: QueryOptions): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const s = connect({ host: o.server, port: o.port });
    const timer = setTimeout(() => finish(new Error(`no TCP answer from ${o.server}:${o.port} within ${o.timeoutMs ?? 2000} ms`)), o.timeoutMs ?? 2000);
    let buf: Buffer = Buffer.alloc(0);
    let done = false;
    function finish(err?: Error, b?: Buffer): void {
      if (done) return;
      done = true;
      clearTimeout(timer);
      s.destroy();
      if (err) reject(err);
      else resolve(b!);
    }
    s.on('error', (e) => finish(e));
    s.on('connect', () => {
      const frame = Buffer.alloc(2 + msg.length);
      frame.writeUInt16BE(msg.length, 0);
      msg.copy(frame, 2);
      s.write(frame);
    });
    s.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) finish(undefined, buf.subarray(2, 2 + buf.readUInt16BE(0)));
    });
    s.on('close', () => finish(new Error(`TCP connection to ${o.server}:${o.port} closed without an answer`)));
  });
}

/** One question, decoded answer. */
export async function query(name: string, type: string, o: QueryOptions & { tcp?: boolean }): Promise<DnsResponse> {
  const msg = buildQuery(name, type, o);
  const raw = o.tcp ? await exchangeTcp(msg, o) : await exchangeUdp(msg, o);
  const r = dnsPacket.decode(raw) as DnsResponse;
  if (r.id !== msg.readUInt16BE(0)) throw new Error(`answer id ${r.id} does not match query id ${msg.readUInt16BE(0)}`);
  return r;
}
