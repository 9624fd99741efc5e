/**
 * Bytes in, bytes out: one DNS message decoded with dns-packet, answered by the
 * resolver, encoded back. Pure (no sockets), so every wire-level rule is tested
 * without a server:
 *
 * - fewer than 12 bytes, or a response (QR set): dropped (undefined), so two
 *   servers can never be made to bounce packets at each other;
 * - undecodable: FORMERR with the query's id; opcode other than QUERY: NOTIMP;
 *   not exactly one question, or more than one OPT: FORMERR;
 * - EDNS: an OPT in the query gets one in the answer; a version above 0 gets
 *   BADVERS (RFC 6891);
 * - size: over UDP an answer larger than 512 bytes (or the client's EDNS size,
 *   capped at 1232) is replaced by an empty one with TC set, so the client retries
 *   over TCP; over TCP answers are cut to fit 65,535 bytes, with TC set.
 * Never throws: an answer that cannot be encoded becomes SERVFAIL.
 */
import dnsPacket from 'dns-packet';
import type { Answer, OptAnswer, Packet, Question } from 'dns-packet';
import { resolveQuestion, type Rcode, type ZoneOptions } from './resolve.js';
import type { DnsView } from './view.js';

export type Transport = 'udp' | 'tcp';

/** The largest UDP answer sent to an EDNS client: DNS flag day 2020's size, safe from fragmentation. */
export const EDNS_UDP_SIZE = 1232;
export const CLASSIC_UDP_SIZE = 512;
const TCP_MAX = 65535;

const RCODES: Record<Rcode, number> = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 };
const QR = 0x8000;
const AA = 0x0400;
const TC = 0x0200;
const RD = 0x0100;
/** BADVERS (16) does not fit the header's 4 bits: its upper bits go in the OPT record. */
const BADVERS_EXTENDED = 16 >> 4;

function optRecord(extendedRcode = 0): OptAnswer {
  return { name: '.', type: 'OPT', udpPayloadSize: EDNS_UDP_SIZE, extendedRcode, ednsVersion: 0, flags: 0, flag_do: false, options: [] };
}

/** A name dns-packet decoded that would not survive re-encoding (a label over 63 bytes once UTF-8). */
function unsafeName(name: string): boolean {
  return name.split('.').some((l) => Buffer.byteLength(l) > 63);
}

interface Header {
  id: number;
  opcode: number;
  rd: number;
}

function encodeWith(h: Header, rcode: Rcode, extra: { aa?: boolean; tc?: boolean; questions?: Question[]; answers?: Answer[]; authorities?: Answer[]; additionals?: Answer[] }): Buffer {
  const p: Packet = {
    type: 'response',
    id: h.id,
    flags: (h.opcode << 11) | h.rd | (extra.aa ? AA : 0) | (extra.tc ? TC : 0) | RCODES[rcode],
    questions: extra.questions ?? [],
    answers: extra.answers ?? [],
    authorities: extra.authorities ?? [],
    additionals: extra.additionals ?? [],
  };
  return dnsPacket.encode(p);
}

/** The most answers (a prefix) that fit in `limit` bytes with the rest of the packet. */
function fitAnswers(p: Packet, limit: number): number {
  let lo = 0;
  let hi = p.answers!.length;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (dnsPacket.encodingLength({ ...p, answers: p.answers!.slice(0, mid), authorities: [], additionals: [] }) <= limit) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/**
 * The answer to one query message, or undefined when nothing must be sent.
 * `transport` decides the size limit; for TCP the caller adds the 2-byte length prefix.
 */
export function answerQuery(buf: Buffer, view: DnsView, zone: ZoneOptions, transport: Transport): Buffer | undefined {
  if (buf.length < 12) return undefined;
  const raw = buf.readUInt16BE(2);
  if (raw & QR) return undefined;
  const h: Header = { id: buf.readUInt16BE(0), opcode: (raw >> 11) & 0xf, rd: raw & RD };
  let query: ReturnType<typeof dnsPacket.decode>;
  try {
    query = dnsPacket.decode(buf);
  } catch {
    return encodeWith(h, 'FORMERR', {});
  }
  if (h.opcode !== 0) return encodeWith(h, 'NOTIMP', {});
  const questions = query.questions ?? [];
  if (questions.length !== 1 || unsafeName(questions[0].name)) return encodeWith(h, 'FORMERR', {});
  const q = questions[0];
  const opts = (query.additionals ?? []).filter((a): a is OptAnswer => a.type === 'OPT');
  if (opts.length > 1) return encodeWith(h, 'FORMERR', { questions: [q] });
  const edns = opts[0];
  if (edns && edns.ednsVersion !== 0) return encodeWith(h, 'NOERROR', { questions: [q], additionals: [optRecord(BADVERS_EXTENDED)] });
  const opt = edns ? [optRecord()] : [];

  const res = resolveQuestion(q, view, zone);
  const packet: Packet = {
    type: 'response',
    id: h.id,
    flags: (h.opcode << 11) | h.rd | (res.authoritative ? AA : 0) | RCODES[res.rcode],
    questions: [q],
    answers: res.answers,
    authorities: res.authorities,
    additionals: [...res.additionals, ...opt],
  };
  const limit = transport === 'tcp' ? TCP_MAX : edns ? Math.min(Math.max(edns.udpPayloadSize || CLASSIC_UDP_SIZE, CLASSIC_UDP_SIZE), EDNS_UDP_SIZE) : CLASSIC_UDP_SIZE;
  try {
    const out = dnsPacket.encode(packet);
    if (out.length <= limit) return out;
    // Too big: over UDP an empty truncated answer (the client retries over TCP); over TCP as many answers as fit.
    const keep = transport === 'tcp' ? fitAnswers({ ...packet, additionals: opt }, limit) : 0;
    return dnsPacket.encode({ ...packet, flags: packet.flags! | TC, answers: res.answers.slice(0, keep), authorities: [], additionals: opt });
  } catch {
    // Data the encoder refuses (it should not happen with validated objects): fail this answer only.
    return encodeWith(h, 'SERVFAIL', { questions: [q], additionals: opt });
  }
}
