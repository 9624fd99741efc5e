/**
 * The one module that drives iptables for the whole project (host network
 * setup, the service proxy). Two halves:
 *
 * - pure functions: the `iptables-restore` payload builder, the backend choice
 *   from rule counts, the tokenizer for `iptables -S` lines and the jump plan;
 * - `Iptables`, the I/O, behind a `Runner` so tests can see every command.
 *
 * Contracts:
 * - One backend per host, never mixed: `detectBackend` picks the one the host
 *   already uses, as kube-proxy's iptables-wrapper does, and every command of
 *   the process then goes to that backend's binaries (`iptables-nft*` or
 *   `iptables-legacy*`), whatever `/etc/alternatives` says.
 * - Payloads are applied with `iptables-restore --noflush -w 5`: a chain
 *   declared in the payload (`:NAME - [0:0]`) is created or flushed, every
 *   other chain and every policy is left as it is.
 * - Only chains the caller owns are named in a payload; jumps from built-in
 *   chains are managed one by one with `ensureJump`/`deleteJumps`.
 */
import { spawn } from 'node:child_process';

export type Backend = 'nft' | 'legacy';
export type Table = 'filter' | 'nat' | 'mangle' | 'raw';

/** A chain in a payload; `rules` are argument lists after `-A <name>`. */
export interface ChainPayload {
  name: string;
  rules: string[][];
}

/** One table's part of a payload. */
export interface TablePayload {
  table: Table;
  /** Chains created (or flushed) and filled with exactly `rules`. */
  chains: ChainPayload[];
  /** Chains deleted (declared first, so deleting one already gone is not an error). */
  deleteChains?: string[];
}

// ---------------------------------------------------------------------------
// Pure: payloads and rule text.

/** Quotes one argument the way iptables-save does: double quotes when it holds anything but [A-Za-z0-9...]. */
export function quoteArg(arg: string): string {
  if (/^[A-Za-z0-9_./:,!+=@%-]+$/.test(arg)) return arg;
  return `"${arg.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** `-A <chain> <args...>` as one payload line. */
export function renderRule(chain: string, args: string[]): string {
  return ['-A', chain, ...args].map(quoteArg).join(' ');
}

/**
 * The text for `iptables-restore --noflush`: per table `*table`, one `:NAME - [0:0]`
 * per chain (created when missing, flushed when present), the rules in order, the
 * deletions (`-X` after a declaration, so a missing chain is fine), `COMMIT`.
 */
export function buildPayload(tables: TablePayload[]): string {
  const out: string[] = [];
  for (const t of tables) {
    out.push(`*${t.table}`);
    const del = t.deleteChains ?? [];
    for (const c of t.chains) out.push(`:${c.name} - [0:0]`);
    for (const name of del) out.push(`:${name} - [0:0]`);
    for (const c of t.chains) for (const r of c.rules) out.push(renderRule(c.name, r));
    for (const name of del) out.push(`-X ${name}`);
    out.push('COMMIT');
  }
  return out.length ? out.join('\n') + '\n' : '';
}

/**
 * Splits one line of `iptables -S` / `iptables-save` into arguments, undoing the
 * double quotes and backslash escapes iptables prints around comments.
 */
export function tokenizeRule(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let inToken = false;
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (quoted) {
      if (ch === '\\' && i + 1 < line.length) cur += line[++i];
      else if (ch === '"') quoted = false;
      else cur += ch;
    } else if (ch === '"') {
      quoted = true;
      inToken = true;
    } else if (ch === ' ' || ch === '\t') {
      if (inToken) out.push(cur);
      cur = '';
      inToken = false;
    } else {
      cur += ch;
      inToken = true;
    }
  }
  if (inToken) out.push(cur);
  return out;
}

/** What a backend's `*-save` output says about its use on this host. */
export interface SaveSummary {
  /** Rule lines (`-A ...`), over all tables. */
  rules: number;
  /** Chains that only an orchestrator's proxy makes: ours (SKIFF-*) or kube-proxy's hints. */
  hints: number;
}

const HINT_CHAIN = /^:(SKIFF-[A-Z0-9-]+|KUBE-IPTABLES-HINT|KUBE-KUBELET-CANARY) /;

export function summarizeSave(text: string): SaveSummary {
  let rules = 0;
  let hints = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('-A ')) rules++;
    else if (HINT_CHAIN.test(line)) hints++;
  }
  return { rules, hints };
}

/**
 * The backend choice of kube-proxy's iptables-wrapper: a backend holding our (or
 * kube-proxy's) chains wins, as that is where an earlier run put its rules; else the
 * one with more rules, i.e. the one the host's other tools (Docker, firewalls) use;
 * ties, an empty host included, go to nft, Debian 12's default. A missing backend
 * (undefined) never wins.
 */
export function chooseBackend(legacy: SaveSummary | undefined, nft: SaveSummary | undefined): Backend {
  if (!legacy) return 'nft';
  if (!nft) return 'legacy';
  if (legacy.hints > 0 && nft.hints === 0) return 'legacy';
  if (nft.hints > 0 && legacy.hints === 0) return 'nft';
  return legacy.rules > nft.rules ? 'legacy' : 'nft';
}

export type JumpPosition = 'first' | 'append';

/** What `ensureJump` must do to leave exactly one `spec` rule in a chain, at `position`. */
export interface JumpPlan {
  /** Rules (argument lists after `-D <chain>`) to delete: duplicates, stale variants. */
  remove: string[][];
  insert: boolean;
}

/**
 * Plans the jump from `chain` to `target` (the last `-j` of `spec`) from the chain's
 * `iptables -S <chain>` listing. Every rule jumping to `target` is ours; it is kept
 * only when it is the only one, matches `spec` argument by argument (so `spec` must
 * be in iptables' canonical order) and, for 'first', is the chain's first rule.
 */
export function planJump(listing: string, chain: string, spec: string[], position: JumpPosition): JumpPlan {
  const jIdx = spec.lastIndexOf('-j');
  if (jIdx < 0 || jIdx + 1 >= spec.length) throw new Error(`jump spec has no "-j TARGET": ${spec.join(' ')}`);
  const ours = jumpsTo(listing, chain, spec[jIdx + 1]!);
  const same = (a: string[]) => a.length === spec.length && a.every((x, i) => x === spec[i]);
  const good = ours.length === 1 && same(ours[0]!.args) && (position === 'append' || ours[0]!.index === 0);
  if (good) return { remove: [], insert: false };
  return { remove: ours.map((o) => o.args), insert: true };
}

/** The rules of `chain` in an `iptables -S` listing whose last `-j` is `target`, with their 0-based positions. */
export function jumpsTo(listing: string, chain: string, target: string): { index: number; args: string[] }[] {
  const rules = listing
    .split('\n')
    .map((l) => tokenizeRule(l))
    .filter((t) => t[0] === '-A' && t[1] === chain)
    .map((t) => t.slice(2));
  const out: { index: number; args: string[] }[] = [];
  rules.forEach((args, index) => {
    const j = args.lastIndexOf('-j');
    if (j >= 0 && args[j + 1] === target) out.push({ index, args });
  });
  return out;
}

// ---------------------------------------------------------------------------
// I/O.

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command with optional stdin; never throws for a non-zero exit (only when it cannot start). */
export interface Runner {
  run(cmd: string, args: string[], input?: string): Promise<RunResult>;
}

/** The real runner: spawn without a shell, 60 s timeout (iptables waits at most 5 s for its lock). */
export const execRunner: Runner = {
  run(cmd, args, input) {
    return new Promise((resolve, reject) => {
      const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], timeout: 60_000 });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout.on('data', (b: Buffer) => out.push(b));
      child.stderr.on('data', (b: Buffer) => err.push(b));
      child.on('error', reject);
      child.on('close', (code, signal) =>
        resolve({ code: code ?? (signal ? 128 : 1), stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() }),
      );
      // A command that exits before reading stdin makes the pipe fail: its exit code tells.
      child.stdin.on('error', () => {});
      child.stdin.end(input ?? '');
    });
  },
};

export class IptablesError extends Error {
  readonly code = 'IptablesFailed';
  constructor(
    readonly command: string,
    readonly result: RunResult,
  ) {
    super(`${command} failed (exit ${result.code}): ${result.stderr.trim() || result.stdout.trim() || 'no output'}`);
    this.name = 'IptablesError';
  }
}

export class Iptables {
  constructor(
    readonly backend: Backend,
    private readonly runner: Runner = execRunner,
  ) {}

  /** The binary for this backend (`iptables-nft`): what the CNI config's `iptables` key takes. */
  get command(): string {
    return `iptables-${this.backend}`;
  }

  private async must(cmd: string, args: string[], input?: string): Promise<string> {
    const r = await this.runner.run(cmd, args, input);
    if (r.code !== 0) throw new IptablesError(`${cmd} ${args.join(' ')}`, r);
    return r.stdout;
  }

  /** `iptables-save -t <table>` text. */
  save(table: Table): Promise<string> {
    return this.must(`${this.command}-save`, ['-t', table]);
  }

  /**
   * Applies `payload` (for `table` only: other tables in it are ignored, `-T`) in one
   * atomic `iptables-restore`. `noflush` (the default, and what every caller should
   * use) keeps chains the payload does not declare; `test` only parses it.
   */
  async restore(table: Table, payload: string, opts: { noflush?: boolean; test?: boolean } = {}): Promise<void> {
    const args = ['-w', '5', '-T', table];
    if (opts.noflush ?? true) args.unshift('--noflush');
    if (opts.test) args.push('--test');
    await this.must(`${this.command}-restore`, args, payload);
  }

  /** `-S <chain>` listing; undefined when the chain does not exist. */
  async listChain(table: Table, chain: string): Promise<string | undefined> {
    const r = await this.runner.run(this.command, ['-w', '5', '-t', table, '-S', chain]);
    if (r.code === 0) return r.stdout;
    // nft 1.8.9 says "chain `X' in table `filter' is incompatible" for a missing chain.
    if (/No chain|does not exist|is incompatible/i.test(r.stderr)) return undefined;
    throw new IptablesError(`${this.command} -t ${table} -S ${chain}`, r);
  }

  /**
   * Makes `spec` (ending in `-j TARGET`) appear exactly once in `chain`, first in it
   * for 'first' (`-I 1`), else appended. Removes duplicates and stale variants of
   * jumps to TARGET. Returns true when it changed anything. Not atomic: callers
   * serialize (one agent per host).
   */
  async ensureJump(table: Table, chain: string, spec: string[], position: JumpPosition = 'first'): Promise<boolean> {
    const listing = await this.listChain(table, chain);
    if (listing === undefined) throw new Error(`iptables: chain ${chain} does not exist in table ${table}`);
    const plan = planJump(listing, chain, spec, position);
    for (const args of plan.remove) await this.deleteRule(table, chain, args);
    if (plan.insert) {
      const at = position === 'first' ? ['-I', chain, '1'] : ['-A', chain];
      await this.must(this.command, ['-w', '5', '-t', table, ...at, ...spec]);
    }
    return plan.remove.length > 0 || plan.insert;
  }

  /** Deletes every rule of `chain` jumping to `target`; a missing chain counts as done. Returns how many. */
  async deleteJumps(table: Table, chain: string, target: string): Promise<number> {
    const listing = await this.listChain(table, chain);
    if (listing === undefined) return 0;
    const ours = jumpsTo(listing, chain, target);
    for (const { args } of ours) await this.deleteRule(table, chain, args);
    return ours.length;
  }

  private async deleteRule(table: Table, chain: string, args: string[]): Promise<void> {
    const r = await this.runner.run(this.command, ['-w', '5', '-t', table, '-D', chain, ...args]);
    // Gone meanwhile is what we wanted.
    if (r.code !== 0 && !/does a matching rule exist|No chain|does not exist|Couldn't load target/i.test(r.stderr)) {
      throw new IptablesError(`${this.command} -t ${table} -D ${chain} ${args.join(' ')}`, r);
    }
  }
}

/** Counts a backend's rules over the tables in use; undefined when its binary is missing or fails. */
async function summarize(runner: Runner, backend: Backend): Promise<SaveSummary | undefined> {
  try {
    const r = await runner.run(`iptables-${backend}-save`, []);
    return r.code === 0 ? summarizeSave(r.stdout) : undefined;
  } catch {
    return undefined;
  }
}

/** Picks the host's backend (see `chooseBackend`); throws when neither is installed. */
export async function detectBackend(runner: Runner = execRunner): Promise<Backend> {
  const [legacy, nft] = await Promise.all([summarize(runner, 'legacy'), summarize(runner, 'nft')]);
  if (!legacy && !nft) throw new Error('iptables: neither iptables-nft-save nor iptables-legacy-save works: install iptables (apt-get install -y iptables)');
  return chooseBackend(legacy, nft);
}

let cached: Promise<Iptables> | undefined;

/**
 * The process's Iptables: the backend detected once (saving big tables is slow), or
 * the one given (SKIFF_IPTABLES_BACKEND=nft|legacy overrides detection).
 */
export function openIptables(opts: { backend?: Backend; runner?: Runner } = {}): Promise<Iptables> {
  const forced = opts.backend ?? envBackend();
  if (forced || opts.runner) {
    const runner = opts.runner ?? execRunner;
    return forced ? Promise.resolve(new Iptables(forced, runner)) : detectBackend(runner).then((b) => new Iptables(b, runner));
  }
  cached ??= detectBackend().then((b) => new Iptables(b));
  cached.catch(() => (cached = undefined));
  return cached;
}

function envBackend(): Backend | undefined {
  const v = process.env.SKIFF_IPTABLES_BACKEND;
  if (v === undefined || v === '') return undefined;
  if (v !== 'nft' && v !== 'legacy') throw new Error(`SKIFF_IPTABLES_BACKEND must be nft or legacy, got "${v}"`);
  return v;
}
