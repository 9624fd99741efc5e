/**
 * Kubernetes resource quantities (`250m`, `1Gi`, `1e3`, `0.5`), as apimachinery's
 * `resource.Quantity` parses, compares and prints them.
 *
 * Values are held exactly as a bigint count of nano-units (10^-9). Parsing rounds a
 * non-zero value below one nano-unit *up* (away from zero), as Kubernetes does "so that
 * asking for some resource yields some resource", and caps the magnitude at 2^63-1 whole
 * units. The suffix family seen at parse time (decimal SI, binary SI or exponent) is
 * kept so the canonical string stays in the family the user wrote.
 */

export type QuantityFormat = 'DecimalSI' | 'BinarySI' | 'DecimalExponent';

export interface Quantity {
  /** Exact value in units of 10^-9. */
  readonly nanos: bigint;
  readonly format: QuantityFormat;
}

/** The text of apimachinery's ErrFormatWrong. */
export const QUANTITY_FORMAT_MESSAGE =
  "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";
/** The text of apimachinery's ErrSuffix. */
export const QUANTITY_SUFFIX_MESSAGE = "unable to parse quantity's suffix";

/** Thrown by parseQuantity on text that is not a quantity; `code` is stable. */
export class QuantityError extends Error {
  readonly code = 'InvalidQuantity';
  constructor(message: string) {
    super(message);
    this.name = 'QuantityError';
  }
}

const NANO = 1_000_000_000n;
const MILLI_IN_NANOS = 1_000_000n;
/** apimachinery caps parsed values at math.MaxInt64 whole units. */
const MAX_NANOS = (2n ** 63n - 1n) * NANO;

const DECIMAL_SUFFIXES: Record<string, number> = { n: -9, u: -6, m: -3, '': 0, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };
const BINARY_SUFFIXES: Record<string, number> = { Ki: 10, Mi: 20, Gi: 30, Ti: 40, Pi: 50, Ei: 60 };
const DECIMAL_BY_EXPONENT = new Map(Object.entries(DECIMAL_SUFFIXES).map(([s, e]) => [e, s]));
const BINARY_BY_POWER = ['', 'Ki', 'Mi', 'Gi', 'Ti', 'Pi', 'Ei'];
const SUFFIX_CHARS = 'eEinumkKMGTP';

const isDigit = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '9';

interface Parts {
  negative: boolean;
  num: string;
  denom: string;
  suffix: string;
}

/** Splits text the way apimachinery's parseQuantityString does, quirks included ("." and "-" mean 0). */
function split(str: string): Parts {
  let pos = 0;
  let negative = false;
  if (str[0] === '-' || str[0] === '+') {
    negative = str[0] === '-';
    pos++;
  }
  while (str[pos] === '0') pos++;
  const numStart = pos;
  while (isDigit(str[pos])) pos++;
  const num = str.slice(numStart, pos) || '0';
  let denom = '';
  if (str[pos] === '.') {
    const denomStart = ++pos;
    while (isDigit(str[pos])) pos++;
    denom = str.slice(denomStart, pos);
  }
  const suffixStart = pos;
  while (pos < str.length && SUFFIX_CHARS.includes(str[pos])) pos++;
  if (str[pos] === '-' || str[pos] === '+') pos++;
  while (isDigit(str[pos])) pos++;
  if (pos !== str.length) throw new QuantityError(QUANTITY_FORMAT_MESSAGE);
  return { negative, num, denom, suffix: str.slice(suffixStart) };
}

/** Base-10 exponent and base-2 exponent a suffix stands for. */
function interpret(suffix: string): { exp10: number; exp2: number; format: QuantityFormat } {
  if (suffix in DECIMAL_SUFFIXES) return { exp10: DECIMAL_SUFFIXES[suffix], exp2: 0, format: 'DecimalSI' };
  if (suffix in BINARY_SUFFIXES) return { exp10: 0, exp2: BINARY_SUFFIXES[suffix], format: 'BinarySI' };
  if ((suffix[0] === 'e' || suffix[0] === 'E') && /^[+-]?[0-9]+$/.test(suffix.slice(1))) {
    return { exp10: Number(suffix.slice(1)), exp2: 0, format: 'DecimalExponent' };
  }
  throw new QuantityError(QUANTITY_SUFFIX_MESSAGE);
}

/** ceil(a / b) for non-negative a and positive b. */
const ceilDiv = (a: bigint, b: bigint): bigint => (a + b - 1n) / b;

/**
 * Parses a quantity. Numbers (as YAML/JSON may carry them) go through their decimal text.
 * Throws QuantityError with apimachinery's messages on malformed text or an unknown suffix.
 */
export function parseQuantity(input: string | number): Quantity {
  if (typeof input === 'number' && !Number.isFinite(input)) throw new QuantityError(QUANTITY_FORMAT_MESSAGE);
  const str = typeof input === 'number' ? String(input) : input;
  if (typeof str !== 'string' || str.length === 0) throw new QuantityError(QUANTITY_FORMAT_MESSAGE);
  const { negative, num, denom, suffix } = split(str);
  const { exp10, exp2, format } = interpret(suffix);
  const digits = BigInt(num + denom);
  // value = digits * 10^(exp10 - len(denom)) * 2^exp2; in nanos the decimal exponent gains 9.
  const shift = exp10 - denom.length + 9;
  let nanos: bigint;
  if (digits === 0n) nanos = 0n;
  // Beyond these bounds the result is certainly capped / certainly below one nano: skip huge powers.
  else if (shift > 40) nanos = MAX_NANOS;
  else if (shift < -(num.length + denom.length + 20)) nanos = 1n;
  else {
    const scaled = digits * (1n << BigInt(exp2));
    nanos = shift >= 0 ? scaled * 10n ** BigInt(shift) : ceilDiv(scaled, 10n ** BigInt(-shift));
  }
  if (nanos > MAX_NANOS) nanos = MAX_NANOS;
  // A decimal zero always prints as DecimalSI ("0"), as in apimachinery.
  const fmt: QuantityFormat = nanos === 0n && format !== 'BinarySI' ? 'DecimalSI' : format;
  return { nanos: negative ? -nanos : nanos, format: fmt };
}

/** parseQuantity without the throw: undefined for invalid input (including non-string, non-number values). */
export function tryParseQuantity(input: unknown): Quantity | undefined {
  if (typeof input !== 'string' && typeof input !== 'number') return undefined;
  try {
    return parseQuantity(input);
  } catch {
    return undefined;
  }
}

/** A whole number of units (bytes, cores, pods) in the given format. */
export function newQuantity(units: number | bigint, format: QuantityFormat = 'DecimalSI'): Quantity {
  return { nanos: BigInt(units) * NANO, format };
}

/** A number of thousandths (millicores), DecimalSI unless told otherwise. */
export function newMilliQuantity(milli: number | bigint, format: QuantityFormat = 'DecimalSI'): Quantity {
  return { nanos: BigInt(milli) * MILLI_IN_NANOS, format };
}

/** Divides nanos by a scale, rounding the magnitude up (apimachinery's ScaledValue). */
function scaled(nanos: bigint, per: bigint): bigint {
  const mag = nanos < 0n ? -nanos : nanos;
  const out = ceilDiv(mag, per);
  return nanos < 0n ? -out : out;
}

/** Thousandths of a unit, rounded up: cpu millicores. Exact up to 2^53. */
export function milliValue(q: Quantity): number {
  return Number(scaled(q.nanos, MILLI_IN_NANOS));
}

/** Whole units, rounded up: bytes for memory. Exact up to 2^53. */
export function value(q: Quantity): number {
  return Number(scaled(q.nanos, NANO));
}

/** Rounds the magnitude up to a multiple of 10^scale units (scale -3 = milli), as Quantity.RoundUp. */
export function roundUpQuantity(q: Quantity, scale: number): Quantity {
  if (scale <= -9) return q;
  const step = 10n ** BigInt(scale + 9);
  return { nanos: scaled(q.nanos, step) * step, format: q.format };
}

/**
 * The canonical string apimachinery serializes (`Quantity.String()`): `250m`, `1Gi`, `1536`,
 * `500m` for "0.5", `1` for "1000m". With `unit` (any suffix, e.g. `Ki` or `m`) the value is
 * instead printed as a whole number of that unit, rounded up: `1024Ki` for 1Mi (metrics use
 * this); an unknown unit throws QuantityError.
 */
export function formatQuantity(q: Quantity, unit?: string): string {
  if (unit !== undefined) {
    const { exp10, exp2 } = interpret(unit);
    const nanosPerUnit = exp10 >= -9 ? 10n ** BigInt(exp10 + 9) * (1n << BigInt(exp2)) : 1n;
    return `${scaled(q.nanos, nanosPerUnit)}${unit}`;
  }
  if (q.nanos === 0n) return '0';
  const sign = q.nanos < 0n ? '-' : '';
  const mag = q.nanos < 0n ? -q.nanos : q.nanos;
  let format = q.format;
  // Binary forms only for whole values of at least 1024; anything else would round or confuse.
  if (format === 'BinarySI' && (mag < 1024n * NANO || mag % NANO !== 0n)) format = 'DecimalSI';
  if (format === 'BinarySI') {
    let n = mag / NANO;
    let power = 0;
    while (n % 1024n === 0n && power < BINARY_BY_POWER.length - 1) {
      n /= 1024n;
      power++;
    }
    return `${sign}${n}${BINARY_BY_POWER[power]}`;
  }
  let mantissa = mag;
  let exponent = -9;
  while (mantissa % 10n === 0n) {
    mantissa /= 10n;
    exponent++;
  }
  // Exponents are kept at multiples of three so SI suffixes apply.
  while (exponent % 3 !== 0) {
    mantissa *= 10n;
    exponent--;
  }
  let suffix: string;
  if (format === 'DecimalExponent') suffix = exponent === 0 ? '' : `e${exponent}`;
  else suffix = DECIMAL_BY_EXPONENT.get(exponent) ?? `e${exponent}`;
  return `${sign}${mantissa}${suffix}`;
}

/** Sum; the result keeps the format of the first non-zero operand (DecimalSI when all are zero). */
export function addQuantities(...qs: Quantity[]): Quantity {
  let nanos = 0n;
  let format: QuantityFormat | undefined;
  for (const q of qs) {
    nanos += q.nanos;
    if (format === undefined && q.nanos !== 0n) format = q.format;
  }
  return { nanos, format: format ?? qs[0]?.format ?? 'DecimalSI' };
}

/** a - b, in a's format (b's when a is zero). */
export function subtractQuantities(a: Quantity, b: Quantity): Quantity {
  return { nanos: a.nanos - b.nanos, format: a.nanos === 0n ? b.format : a.format };
}

/** -1, 0 or 1 as a is less than, equal to or greater than b. */
export function compareQuantities(a: Quantity, b: Quantity): -1 | 0 | 1 {
  return a.nanos < b.nanos ? -1 : a.nanos > b.nanos ? 1 : 0;
}

export function isZeroQuantity(q: Quantity): boolean {
  return q.nanos === 0n;
}
