/**
 * Decoding of `application/vnd.kubernetes.protobuf` request bodies, which client-go's
 * typed clients (kubectl 1.32 `create namespace|configmap|secret|deployment|service...`)
 * send with no JSON fallback.
 *
 * Wire format: the 4-byte magic `k8s\0`, then a `runtime.Unknown` message
 * { typeMeta (1): { apiVersion (1), kind (2) }, raw (2), contentEncoding (3), contentType (4) }
 * whose `raw` is the protobuf encoding of the typed object. We turn that into the plain
 * JSON object the JSON path would have produced, using the field tables in
 * protobuf-schema.ts. Only decoding is implemented: responses stay JSON, which every
 * client accepts.
 */
import { badRequest, StatusError } from '../../common/errors.js';
import { kindMessage, messageSpec, type FieldSpec, type MessageSpec } from './protobuf-schema.js';

export const PROTOBUF_MEDIA_TYPE = 'application/vnd.kubernetes.protobuf';

const MAGIC = Buffer.from([0x6b, 0x38, 0x73, 0x00]);

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LEN = 2;
const WIRE_START_GROUP = 3;
const WIRE_END_GROUP = 4;
const WIRE_FIXED32 = 5;

/** Deep enough for any real object; only reachable through (deprecated) nested groups in unknown fields. */
const MAX_GROUP_DEPTH = 64;

type Obj = Record<string, unknown>;

function malformed(why: string, path: string): StatusError {
  return badRequest(`invalid protobuf body${path ? ` at ${path}` : ''}: ${why}`);
}

/** A cursor over buf[pos, end), with `path` naming the JSON location for error messages. */
class Reader {
  constructor(
    readonly buf: Buffer,
    public pos: number,
    readonly end: number,
    readonly path: string,
  ) {}

  /** A varint that must fit a JS number exactly: tags and lengths. */
  uint(): number {
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw malformed(`truncated varint at byte ${this.pos}`, this.path);
      const b = this.buf[this.pos++];
      result += (b & 0x7f) * mul;
      if (b < 0x80) {
        if (result > Number.MAX_SAFE_INTEGER) throw malformed(`varint too large at byte ${this.pos}`, this.path);
        return result;
      }
      mul *= 128;
    }
    throw malformed(`varint longer than 10 bytes at byte ${this.pos}`, this.path);
  }

  /** A full 64-bit varint value (negative int32/int64 use all ten bytes, two's complement). */
  varint(): bigint {
    let result = 0n;
    let shift = 0n;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw malformed(`truncated varint at byte ${this.pos}`, this.path);
      const b = this.buf[this.pos++];
      result |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) return BigInt.asUintN(64, result);
      shift += 7n;
    }
    throw malformed(`varint longer than 10 bytes at byte ${this.pos}`, this.path);
  }

  /** The bounds of a length-delimited payload, advancing past it; errors name `path`. */
  bytes(path = this.path): [number, number] {
    const len = this.uint();
    const start = this.pos;
    if (len > this.end - start) throw malformed(`length ${len} at byte ${start} runs past the end of its message`, path);
    this.pos = start + len;
    return [start, start + len];
  }

  sub(path: string): Reader {
    const [start, end] = this.bytes(path);
    return new Reader(this.buf, start, end, path);
  }

  string(): string {
    const [start, end] = this.bytes();
    return this.buf.toString('utf8', start, end);
  }

  /** Reads a tag: [field number, wire type]. */
  tag(): [number, number] {
    const t = this.uint();
    const num = Math.floor(t / 8);
    if (num === 0) throw malformed(`field number 0 at byte ${this.pos}`, this.path);
    return [num, t % 8];
  }

  /** Skips one field's value of wire type `wt` (unknown fields must be skipped, never fatal). */
  skip(wt: number, num: number, depth = 0): void {
    switch (wt) {
      case WIRE_VARINT:
        this.varint();
        return;
      case WIRE_FIXED64:
        return this.advance(8);
      case WIRE_LEN:
        this.bytes();
        return;
      case WIRE_FIXED32:
        return this.advance(4);
      case WIRE_START_GROUP: {
        if (depth >= MAX_GROUP_DEPTH) throw malformed('groups nested too deeply', this.path);
        for (;;) {
          if (this.pos >= this.end) throw malformed(`unterminated group ${num}`, this.path);
          const [n, w] = this.tag();
          if (w === WIRE_END_GROUP) {
            if (n !== num) throw malformed(`group ${num} closed by end-group ${n}`, this.path);
            return;
          }
          this.skip(w, n, depth + 1);
        }
      }
      case WIRE_END_GROUP:
        throw malformed(`unexpected end-group for field ${num}`, this.path);
      default:
        throw malformed(`invalid wire type ${wt} for field ${num}`, this.path);
    }
  }

  private advance(n: number): void {
    if (n > this.end - this.pos) throw malformed(`truncated fixed-width field at byte ${this.pos}`, this.path);
    this.pos += n;
  }
}

const isZero = (v: unknown): boolean => v === '' || v === 0 || v === false;

/** RFC 3339 at second precision, as metav1.Time marshals; undefined for the zero time. */
function timeString(seconds: bigint, path: string): string | undefined {
  if (seconds === 0n) return undefined;
  const ms = Number(seconds) * 1000;
  const d = new Date(ms);
  if (Number.isNaN(d.getTime())) throw malformed(`timestamp ${seconds} out of range`, path);
  return d.toISOString().replace(/\.\d+Z$/, 'Z');
}

/** Decodes the message types that JSON renders as scalars: Quantity, IntOrString, Time. */
function decodeSpecial(r: Reader, type: string): unknown {
  let str = '';
  let int = 0;
  let isString = false;
  let seconds = 0n;
  while (r.pos < r.end) {
    const [num, wt] = r.tag();
    if (type === 'qty' && num === 1 && wt === WIRE_LEN) str = r.string();
    else if (type === 'ios' && num === 1 && wt === WIRE_VARINT) isString = r.varint() === 1n;
    else if (type === 'ios' && num === 2 && wt === WIRE_VARINT) int = Number(BigInt.asIntN(32, r.varint()));
    else if (type === 'ios' && num === 3 && wt === WIRE_LEN) str = r.string();
    else if (type === 'time' && num === 1 && wt === WIRE_VARINT) seconds = BigInt.asIntN(64, r.varint());
    else r.skip(wt, num); // Time.nanos (2) is dropped: JSON carries seconds only.
  }
  if (type === 'qty') return str;
  if (type === 'ios') return isString ? str : int;
  return timeString(seconds, r.path);
}

/** One value of a scalar field at the reader's position, already past its tag. */
function readScalar(r: Reader, type: string, wt: number): unknown {
  const expected = type === 'bool' || type === 'i32' || type === 'i64' ? WIRE_VARINT : WIRE_LEN;
  if (wt !== expected) throw malformed(`wire type ${wt} where ${type} expects ${expected}`, r.path);
  switch (type) {
    case 'str':
      return r.string();
    case 'bytes': {
      const [start, end] = r.bytes();
      return r.buf.toString('base64', start, end); // JSON renders []byte as base64
    }
    case 'bool':
      return r.varint() !== 0n;
    case 'i32':
      return Number(BigInt.asIntN(32, r.varint()));
    case 'i64':
      return Number(BigInt.asIntN(64, r.varint()));
    default:
      return decodeSpecial(r.sub(r.path), type);
  }
}

/** A map entry message { key = 1, value = 2 } read from `e`; absent parts take their zero value. */
function readMapEntry(e: Reader, f: FieldSpec, into: Obj): void {
  let key = '';
  let value: unknown;
  while (e.pos < e.end) {
    const [num, wt] = e.tag();
    if (num === 1 && wt === WIRE_LEN) key = e.string();
    else if (num === 2) value = f.scalar ? readScalar(e, f.type, wt) : decodeMessage(e.sub(`${e.path}[${JSON.stringify(key)}]`), messageSpec(f.type));
    else e.skip(wt, num);
  }
  value ??= f.scalar ? (f.type === 'i32' || f.type === 'i64' ? 0 : f.type === 'bool' ? false : '') : {};
  // An own property even for the key "__proto__", as JSON.parse would make it.
  Object.defineProperty(into, key, { value, enumerable: true, writable: true, configurable: true });
}

/** Reads one scalar at r's position with errors naming `path`, advancing r past it. */
function readScalarAt(r: Reader, type: string, wt: number, path: string): unknown {
  const c = new Reader(r.buf, r.pos, r.end, path);
  const v = readScalar(c, type, wt);
  r.pos = c.pos;
  return v;
}

function readField(r: Reader, f: FieldSpec, num: number, wt: number, out: Obj): void {
  const path = f.name ? (r.path ? `${r.path}.${f.name}` : f.name) : r.path;
  if (f.inline) {
    if (wt !== WIRE_LEN) throw malformed(`wire type ${wt} for embedded message field ${num}`, path);
    decodeMessage(r.sub(path), messageSpec(f.type), out);
    return;
  }
  if (f.map) {
    if (wt !== WIRE_LEN) throw malformed(`wire type ${wt} for map entry`, path);
    readMapEntry(r.sub(path), f, (out[f.name] ??= {}) as Obj);
    return;
  }
  if (f.repeated) {
    const list = (out[f.name] ??= []) as unknown[];
    const at = `${path}[${list.length}]`;
    if (!f.scalar) {
      if (wt !== WIRE_LEN) throw malformed(`wire type ${wt} for a message`, at);
      list.push(decodeMessage(r.sub(at), messageSpec(f.type)));
    } else if (wt === WIRE_LEN && (f.type === 'bool' || f.type === 'i32' || f.type === 'i64')) {
      // Packed encoding of repeated numbers: accepted as parsers must, though go-to-protobuf writes them unpacked.
      const p = r.sub(at);
      while (p.pos < p.end) list.push(readScalar(p, f.type, WIRE_VARINT));
    } else {
      list.push(readScalarAt(r, f.type, wt, at));
    }
    return;
  }
  if (!f.scalar) {
    if (wt !== WIRE_LEN) throw malformed(`wire type ${wt} for a message`, path);
    // A repeated occurrence of a singular message merges into the first, as protobuf specifies.
    const prev = out[f.name];
    out[f.name] = decodeMessage(r.sub(path), messageSpec(f.type), prev && typeof prev === 'object' ? (prev as Obj) : {});
    return;
  }
  const v = readScalarAt(r, f.type, wt, path);
  // Last occurrence wins; a zero value of an omitempty field means "unset" in JSON terms.
  if (v === undefined || (isZero(v) && !f.keepZero)) delete out[f.name];
  else out[f.name] = v;
}

/** Decodes the message in r[pos, end) per `spec` into `out` (returned). Unknown fields are skipped. */
function decodeMessage(r: Reader, spec: MessageSpec, out: Obj = {}): Obj {
  while (r.pos < r.end) {
    const [num, wt] = r.tag();
    const f = spec.get(num);
    if (f) readField(r, f, num, wt, out);
    else r.skip(wt, num);
  }
  return out;
}

interface Envelope {
  apiVersion: string;
  kind: string;
  raw?: [number, number];
  contentEncoding: string;
  contentType: string;
}

function readEnvelope(buf: Buffer): Envelope {
  const env: Envelope = { apiVersion: '', kind: '', contentEncoding: '', contentType: '' };
  const r = new Reader(buf, MAGIC.length, buf.length, '');
  while (r.pos < r.end) {
    const [num, wt] = r.tag();
    if (num === 1 && wt === WIRE_LEN) {
      const t = r.sub('typeMeta');
      while (t.pos < t.end) {
        const [n, w] = t.tag();
        if (n === 1 && w === WIRE_LEN) env.apiVersion = t.string();
        else if (n === 2 && w === WIRE_LEN) env.kind = t.string();
        else t.skip(w, n);
      }
    } else if (num === 2 && wt === WIRE_LEN) env.raw = r.bytes();
    else if (num === 3 && wt === WIRE_LEN) env.contentEncoding = r.string();
    else if (num === 4 && wt === WIRE_LEN) env.contentType = r.string();
    else r.skip(wt, num);
  }
  return env;
}

/**
 * Decodes a Kubernetes protobuf body (`k8s\0` + runtime.Unknown) into the JSON object the
 * JSON path would produce: `{apiVersion, kind, metadata, spec | data | ...}`, omitting
 * fields that were absent or hold an `omitempty` zero value.
 *
 * Throws 400 BadRequest for a missing magic prefix, truncated or malformed protobuf, or an
 * envelope without apiVersion/kind; 415 UnsupportedMediaType (naming the kind) for a kind
 * we have no field table for, or an encoded/non-protobuf `raw`.
 */
export function decodeProtobufObject(buf: Buffer): Record<string, unknown> {
  if (buf.length < MAGIC.length || !buf.subarray(0, MAGIC.length).equals(MAGIC)) {
    throw badRequest('invalid protobuf body: missing the "k8s\\x00" prefix');
  }
  const env = readEnvelope(buf);
  if (!env.kind || !env.apiVersion) throw badRequest('invalid protobuf body: the envelope names no apiVersion and kind');
  const message = kindMessage(env.apiVersion, env.kind);
  if (!message) {
    throw new StatusError(
      415,
      'UnsupportedMediaType',
      `the server cannot decode ${env.kind} (${env.apiVersion}) from ${PROTOBUF_MEDIA_TYPE}; send it as application/json`,
    );
  }
  if (env.contentEncoding || (env.contentType && env.contentType !== PROTOBUF_MEDIA_TYPE)) {
    throw new StatusError(
      415,
      'UnsupportedMediaType',
      `the server cannot decode ${env.kind} with contentEncoding "${env.contentEncoding}" and contentType "${env.contentType}"`,
    );
  }
  const obj: Obj = { apiVersion: env.apiVersion, kind: env.kind };
  if (env.raw) decodeMessage(new Reader(buf, env.raw[0], env.raw[1], ''), messageSpec(message), obj);
  return obj;
}
