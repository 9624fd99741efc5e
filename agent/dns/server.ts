/**
 * The DNS server's sockets: UDP and TCP (RFC 1035 §4.2.2: each message
 * prefixed by its 16-bit length; several per connection, pipelined) on each
 * given address, all on one port. Every message goes through `answerQuery`
 * (wire.ts); this file only moves bytes.
 *
 * Limits, so a misbehaving client costs little: a TCP connection idle for 10 s
 * is closed (RFC 7766's advice), at most 256 TCP connections at once, and a
 * connection that announces a message it never completes is closed by the
 * idle timer, one that sends queries without reading the answers is dropped
 * past 1 MB unread. UDP answers go back to the sender's address and port only.
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, isIPv6, type Server, type Socket } from 'node:net';
import type { Logger } from '../../common/log.js';
import type { ZoneOptions } from './resolve.js';
import type { DnsView } from './view.js';
import { answerQuery, type Transport } from './wire.js';

/** Answers buffered for a TCP client that does not read them before it is dropped. */
const MAX_UNREAD = 1 << 20;

export interface DnsServerOptions {
  /** Addresses to listen on (each gets UDP and TCP). */
  addresses: string[];
  /** 0 picks a free port (the same for every socket): tests. */
  port: number;
  view: DnsView;
  zone: ZoneOptions;
  log: Logger;
  tcpIdleMs?: number;
  maxTcpConnections?: number;
}

export interface DnsServer {
  port: number;
  addresses: string[];
  /** Messages answered, by transport (for tests and the benchmark). */
  readonly stats: { udp: number; tcp: number; dropped: number };
  close(): Promise<void>;
}

function bindUdp(address: string, port: number, onMessage: (msg: Buffer, reply: (b: Buffer) => void) => void, log: Logger): Promise<UdpSocket> {
  const sock = createSocket({ type: isIPv6(address) ? 'udp6' : 'udp4' });
  sock.on('message', (msg, rinfo) => onMessage(msg, (b) => sock.send(b, rinfo.port, rinfo.address, () => undefined)));
  return new Promise((resolve, reject) => {
    sock.once('error', reject);
    sock.bind(port, address, () => {
      sock.off('error', reject);
      // After binding, errors (ICMP-induced, buffer limits) are per packet: log, keep serving.
      sock.on('error', (e) => log.debug({ err: e.message, address }, 'dns udp socket error'));
      resolve(sock);
    });
  });
}

function bindTcp(address: string, port: number, onConnection: (s: Socket) => void, maxConnections: number): Promise<Server> {
  const srv = createServer(onConnection);
  srv.maxConnections = maxConnections;
  return new Promise((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(port, address, () => {
      srv.off('error', reject);
      resolve(srv);
    });
  });
}

/** Starts listening on every address; rejects (closing what was opened) if any bind fails. */
export async function startDnsServer(o: DnsServerOptions): Promise<DnsServer> {
  const stats = { udp: 0, tcp: 0, dropped: 0 };
  const idleMs = o.tcpIdleMs ?? 10_000;
  const conns = new Set<Socket>();
  const handle = (msg: Buffer, transport: Transport): Buffer | undefined => {
    const out = answerQuery(msg, o.view, o.zone, transport);
    if (out) stats[transport]++;
    else stats.dropped++;
    return out;
  };
  const onUdp = (msg: Buffer, reply: (b: Buffer) => void): void => {
    const out = handle(msg, 'udp');
    if (out) reply(out);
  };
  const onTcp = (s: Socket): void => {
    conns.add(s);
    s.setNoDelay(true);
    s.setTimeout(idleMs, () => s.destroy());
    s.on('close', () => conns.delete(s));
    s.on('error', () => s.destroy());
    let buf: Buffer = Buffer.alloc(0);
    s.on('data', (chunk: Buffer) => {
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
      // Every complete length-prefixed message in the buffer, in order.
      while (buf.length >= 2) {
        const len = buf.readUInt16BE(0);
        if (buf.length < 2 + len) break;
        const msg = buf.subarray(2, 2 + len);
        buf = buf.subarray(2 + len);
        const out = handle(msg, 'tcp');
        if (!out) continue;
        const frame = Buffer.allocUnsafe(2 + out.length);
        frame.writeUInt16BE(out.length, 0);
        out.copy(frame, 2);
        s.write(frame);
        // A client that asks without reading: stop buffering answers for it.
        if (s.writableLength > MAX_UNREAD) return void s.destroy();
      }
    });
  };

  const udp: UdpSocket[] = [];
  const tcp: Server[] = [];
  const close = async (): Promise<void> => {
    for (const s of conns) s.destroy();
    await Promise.all([
      ...udp.map((s) => new Promise<void>((r) => s.close(() => r()))),
      ...tcp.map((s) => new Promise<void>((r) => s.close(() => r()))),
    ]);
  };
  let port = o.port;
  try {
    for (const address of [...new Set(o.addresses)]) {
      const u = await bindUdp(address, port, onUdp, o.log);
      udp.push(u);
      // Port 0: the first socket picks, every other one uses the same number.
      if (port === 0) port = u.address().port;
      tcp.push(await bindTcp(address, port, onTcp, o.maxTcpConnections ?? 256));
    }
  } catch (e) {
    await close();
    const err = e as NodeJS.ErrnoException;
    throw new Error(`cluster DNS cannot listen on port ${port} of ${o.addresses.join(', ')}: ${err.code ?? err.message}`);
  }
  o.log.info({ addresses: o.addresses, port }, 'cluster DNS listening (UDP and TCP)');
  return {
    port,
    addresses: o.addresses,
    stats,
    close,
  };
}
