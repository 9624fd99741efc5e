/**
 * Progress output for the long steps of `lab up` (debootstrap, the import, node
 * start-up). debootstrap prints one `I: <Verb> <package> ...` line per package;
 * `parseDebootstrapLine` (pure) turns each into a step and an item, and
 * `Progress` prints one line per step with a running count: rewritten in place on
 * a terminal, every `every` items otherwise (logs and CI stay short).
 */

export interface ProgressEvent {
  /** `downloading`, `extracting`, `unpacking`, `configuring`, or a debootstrap sentence. */
  step: string;
  /** The package, for per-package lines. */
  item?: string;
}

const VERBS: Record<string, string> = {
  Retrieving: 'downloading',
  Extracting: 'extracting',
  Unpacking: 'unpacking',
  Configuring: 'configuring',
};

/**
 * One debootstrap output line as a progress event, or undefined for lines that
 * say nothing new (`Validating` follows every `Retrieving`). Pure.
 */
export function parseDebootstrapLine(line: string): ProgressEvent | undefined {
  const m = /^I: (\S+)\s*(.*)$/.exec(line.trim());
  if (!m) return undefined;
  const [, verb, rest] = m as unknown as [string, string, string];
  if (verb === 'Validating') return undefined;
  const step = VERBS[verb];
  if (step) {
    // "Unpacking required packages..." is a sentence; "Configuring procps..." and
    // "Retrieving libc6 2.36-9" name a package (a version may follow it).
    const words = rest.replace(/\.+$/, '').split(/\s+/);
    if (words.length > 2 || (words.length === 2 && !/^[0-9]/.test(words[1]!))) return { step: `${verb} ${rest}`.replace(/\.+$/, '') };
    return { step, item: words[0]! };
  }
  return { step: `${verb} ${rest}`.replace(/\.+$/, '').trim() };
}

export interface ProgressSink {
  write(s: string): void;
  isTTY?: boolean;
}

/** Prints steps and counts; `done()` closes the current line. Not for concurrent use. */
export class Progress {
  private step = '';
  private count = 0;
  private readonly started = Date.now();
  private lastLen = 0;
  private readonly totals = new Map<string, number>();

  constructor(
    private readonly prefix: string,
    private readonly out: ProgressSink = process.stdout,
    private readonly every = 25,
  ) {}

  /** Seconds since this Progress was made, one decimal. */
  elapsed(): string {
    return ((Date.now() - this.started) / 1000).toFixed(1);
  }

  /** A sentence on a line of its own. */
  say(text: string): void {
    this.endLine();
    this.out.write(`${this.prefix}${text}\n`);
  }

  /** One event: a new step starts a new line, an item advances the count. */
  event(e: ProgressEvent): void {
    if (e.step !== this.step) {
      // Configuring follows unpacking package by package: the unpacked count is its total.
      if (this.step && this.count) this.totals.set(this.step, this.count);
      this.endLine();
      this.step = e.step;
      this.count = 0;
      if (!e.item) {
        this.out.write(`${this.prefix}${e.step} (${this.elapsed()} s)\n`);
        return;
      }
    }
    if (!e.item) return;
    this.count++;
    const total = this.step === 'configuring' ? this.totals.get('unpacking') : undefined;
    const text = `${this.prefix}${this.step} ${this.count}${total ? `/${total}` : ''} packages (${e.item}, ${this.elapsed()} s)`;
    if (this.out.isTTY) {
      this.out.write(`\r${text.padEnd(this.lastLen)}`);
      this.lastLen = text.length;
    } else if (this.count === 1 || this.count % this.every === 0) {
      this.out.write(`${text}\n`);
    }
  }

  /** Feeds raw output (any chunking); complete lines are parsed. */
  feed(): (chunk: Buffer | string) => void {
    let partial = '';
    return (chunk) => {
      partial += chunk.toString();
      const lines = partial.split('\n');
      partial = lines.pop() ?? '';
      for (const l of lines) {
        const e = parseDebootstrapLine(l);
        if (e) this.event(e);
      }
    };
  }

  /** Ends an in-place line on a terminal. */
  endLine(): void {
    if (this.out.isTTY && this.lastLen) this.out.write('\n');
    this.lastLen = 0;
  }
}
