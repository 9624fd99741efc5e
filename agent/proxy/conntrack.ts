/**
 * Stale UDP conntrack entries. A UDP "connection" DNATed to an endpoint keeps
 * going there for as long as the client sends from the same port, even after the
 * endpoint left the service: the rules only decide for new flows. As kube-proxy
 * does, flows DNATed to an endpoint that a service port dropped are deleted with
 * `conntrack -D` after the rules changed. TCP needs none of this (a dead
 * endpoint resets or times out, and the client reconnects).
 */
import { execRunner, type Runner } from '../../common/iptables.js';
import type { Logger } from '../../common/log.js';
import type { ServicePort } from './model.js';

/** One set of flows to delete: to `dst:port` (or any local address on a NodePort), DNATed to `endpoint`. */
export interface StaleFlow {
  /** Original destination address; undefined for a NodePort (any local address). */
  dst?: string;
  port: number;
  endpoint: string;
}

/** The UDP flows that `before` sent to endpoints `after` no longer has (pure; ports matched by key). */
export function staleUdpFlows(before: ServicePort[], after: ServicePort[]): StaleFlow[] {
  const out: StaleFlow[] = [];
  const next = new Map(after.map((p) => [p.key, p]));
  for (const old of before) {
    if (old.protocol !== 'UDP') continue;
    const cur = next.get(old.key);
    const gone = (was: ServicePort['internal'], now: ServicePort['internal'] | undefined): string[] => {
      const keep = new Set((now ?? []).map((e) => e.ip));
      return [...new Set(was.map((e) => e.ip))].filter((ip) => !keep.has(ip));
    };
    for (const ep of gone(old.internal, cur?.clusterIP === old.clusterIP && cur?.port === old.port ? cur.internal : undefined)) out.push({ dst: old.clusterIP, port: old.port, endpoint: ep });
    const extGone = gone(old.external, cur?.port === old.port ? cur.external : undefined);
    for (const ep of extGone) {
      for (const ip of old.externalIPs) out.push({ dst: ip, port: old.port, endpoint: ep });
      if (old.nodePort) out.push({ port: old.nodePort, endpoint: ep });
    }
  }
  return out;
}

/** `conntrack -D` arguments for one stale flow set. */
export function conntrackArgs(f: StaleFlow): string[] {
  return f.dst ? ['-D', '-p', 'udp', '--orig-dst', f.dst, '--orig-port-dst', String(f.port), '--dst-nat', f.endpoint] : ['-D', '-p', 'udp', '--orig-port-dst', String(f.port), '--dst-nat', f.endpoint];
}

/** Deletes stale flows; best effort (a missing `conntrack` binary is logged once). */
export class ConntrackCleaner {
  private missing = false;

  constructor(
    private readonly log: Logger,
    private readonly runner: Runner = execRunner,
  ) {}

  async clear(flows: StaleFlow[]): Promise<void> {
    if (this.missing) return;
    for (const f of flows) {
      try {
        const r = await this.runner.run('conntrack', conntrackArgs(f));
        // Exit 1 with "0 flow entries have been deleted" is the common, fine case.
        if (r.code !== 0 && !/0 flow entries/.test(r.stderr)) this.log.debug({ flow: f, err: r.stderr.trim() }, 'conntrack -D failed');
      } catch (e) {
        this.missing = true;
        this.log.warn({ err: (e as Error).message }, 'conntrack is not installed: stale UDP flows to removed endpoints are not cleared (apt-get install -y conntrack)');
        return;
      }
    }
  }
}
