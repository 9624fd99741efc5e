/**
 * Container lifecycle hooks (postStart, preStop) as the kubelet's handlerRunner runs
 * them: `exec` in the container (a non-zero exit fails), `httpGet` to the pod (only a
 * transport error fails: the status code is ignored), `sleep` (fails only when cut
 * short). The result carries the kubelet's failure message, which the caller puts in a
 * FailedPostStartHook / FailedPreStopHook event (`hookEventReason`). After a failed
 * postStart the kubelet kills the container; a failed preStop only gets the event.
 *
 * Every handler is bounded by `timeoutMs` (for preStop: the remaining grace period) and
 * stops early when `signal` aborts.
 */
import { realClock, type Clock } from '../../common/clock.js';
import type { Runtime } from '../runtime/types.js';
import { goQuote, type Obj } from './fieldpath.js';
import { httpGetAction, resolvePort } from './probe-handlers.js';

export const LIFECYCLE_USER_AGENT = 'kube-lifecycle/1.32';

export interface HookContext {
  runtime: Runtime;
  containerId: string;
  podIP?: string;
  timeoutMs: number;
  /** For the message (`name_namespace(uid)`). */
  pod?: Obj;
  /** For the message and named ports. */
  container?: Obj;
  clock?: Clock;
  /** Aborted when the container is being killed: a running sleep hook ends as failed. */
  signal?: AbortSignal;
}

export type HookResult = { ok: true } | { ok: false; message: string; error: string };

export type HookKind = 'postStart' | 'preStop';

export function hookEventReason(kind: HookKind): 'FailedPostStartHook' | 'FailedPreStopHook' {
  return kind === 'postStart' ? 'FailedPostStartHook' : 'FailedPreStopHook';
}

/** Kubernetes' format.Pod: `name_namespace(uid)`. */
export function formatPod(pod: Obj | undefined): string {
  const m = pod?.metadata ?? {};
  return `${m.name ?? ''}_${m.namespace ?? ''}(${m.uid ?? ''})`;
}

/** Go's `%v` of a []string: `[sh -c echo hi]`. */
const goSlice = (xs: string[]): string => `[${xs.join(' ')}]`;

/** Go's Duration.String for whole milliseconds: `500ms`, `2s`, `1.5s`. */
const goDuration = (ms: number): string => (ms < 1000 ? `${ms}ms` : `${ms / 1000}s`);

async function execHook(cmd: string[], ctx: HookContext): Promise<{ error?: string; output: string }> {
  const r = await ctx.runtime.execSync(ctx.containerId, cmd, ctx.timeoutMs);
  if (r.timedOut) return { error: `command '${cmd.join(' ')}' timed out after ${goDuration(ctx.timeoutMs)}`, output: r.output };
  if (r.exitCode !== 0) return { error: `command '${cmd.join(' ')}' exited with ${r.exitCode}: `, output: r.output };
  return { output: r.output };
}

/** Waits `ms` on the clock; false when the signal aborted or the timeout came first. */
function sleepFor(ms: number, ctx: HookContext): Promise<boolean> {
  const clock = ctx.clock ?? realClock;
  return new Promise((resolve) => {
    if (ctx.signal?.aborted) return resolve(false);
    const cut = ms > ctx.timeoutMs;
    const done = (ok: boolean): void => {
      timer.cancel();
      ctx.signal?.removeEventListener('abort', onAbort);
      resolve(ok);
    };
    const onAbort = (): void => done(false);
    const timer = clock.after(cut ? ctx.timeoutMs : ms, () => done(!cut));
    ctx.signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Runs one lifecycle handler. Never rejects for a failing hook: the failure is the
 * result, with the message the kubelet would record.
 */
export async function runHook(handler: Obj, ctx: HookContext): Promise<HookResult> {
  const who = `for Container "${ctx.container?.name ?? ''}" in Pod "${formatPod(ctx.pod)}"`;
  try {
    if (handler?.exec) {
      const cmd: string[] = handler.exec.command ?? [];
      const r = await execHook(cmd, ctx);
      if (r.error === undefined) return { ok: true };
      return { ok: false, error: r.error, message: `Exec lifecycle hook (${goSlice(cmd)}) ${who} failed - error: ${r.error}, message: ${goQuote(r.output)}` };
    }
    if (handler?.httpGet) {
      const g = handler.httpGet;
      const fail = (error: string): HookResult => ({ ok: false, error, message: `HTTP lifecycle hook (${g.path ?? ''}) ${who} failed - error: ${error}` });
      const host: string | undefined = g.host || ctx.podIP;
      if (!host) return fail('failed to find networking container: pod has no IP');
      const port = g.port === undefined || g.port === 0 || g.port === '' ? 80 : resolvePort(g.port, ctx.container);
      const r = await httpGetAction(
        { scheme: g.scheme === 'HTTPS' ? 'HTTPS' : 'HTTP', host, port, path: g.path ?? '', headers: g.httpHeaders },
        ctx.timeoutMs,
        { judgeStatus: false, userAgent: LIFECYCLE_USER_AGENT },
      );
      return r.result === 'failure' ? fail(r.output) : { ok: true };
    }
    if (handler?.sleep) {
      const seconds = Number(handler.sleep.seconds ?? 0);
      if (await sleepFor(seconds * 1000, ctx)) return { ok: true };
      const error = 'container terminated before sleep hook finished';
      return { ok: false, error, message: `Sleep lifecycle hook (${seconds}) ${who} failed - error: ${error}` };
    }
    const error = `invalid handler: ${JSON.stringify(handler)}`;
    return { ok: false, error, message: `Cannot run handler: ${error}` };
  } catch (e) {
    // The runtime could not run it at all (container gone, unknown port): still a hook failure.
    const error = (e as Error).message;
    const what = handler?.exec ? `Exec lifecycle hook (${goSlice(handler.exec.command ?? [])})` : handler?.httpGet ? `HTTP lifecycle hook (${handler.httpGet.path ?? ''})` : 'Lifecycle hook';
    return { ok: false, error, message: `${what} ${who} failed - error: ${error}${handler?.exec ? `, message: ""` : ''}` };
  }
}
