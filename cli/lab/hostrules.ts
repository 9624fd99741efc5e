/**
 * The one host rule the lab needs, and its removal.
 *
 * Why: Docker isolates an `--internal` network with two rules in
 * DOCKER-ISOLATION-STAGE-1, `! -s 192.168.56.0/24 -o <bridge> -j DROP` and
 * `! -d 192.168.56.0/24 -i <bridge> -j DROP`. With br_netfilter, packets bridged
 * between two node containers cross the host's FORWARD chain, so pod-to-pod
 * traffic between nodes (source and destination in 10.244.0.0/16, routed by
 * host-gw without NAT) would be dropped by them. The lab accepts traffic that
 * enters AND leaves its own bridge, and nothing else: the network stays internal.
 *
 * Where: chain SKIFF-LAB, jumped to first from DOCKER-USER (the chain Docker
 * runs before its own and never flushes), in the iptables backend holding
 * DOCKER-USER. Without DOCKER-USER, Docker manages no rules and none is needed.
 */
import { Iptables, buildPayload, type Backend, type TablePayload } from '../../common/iptables.js';
import { LAB_BRIDGE } from './plan.js';

export const LAB_CHAIN = 'SKIFF-LAB';
export const DOCKER_USER = 'DOCKER-USER';
/** The jump in iptables' canonical order (so `-S` output compares equal). */
export const LAB_JUMP = ['-m', 'comment', '--comment', 'skiff lab: pod traffic between lab nodes', '-j', LAB_CHAIN];

/** The filter payload creating (or refreshing) SKIFF-LAB. Pure. */
export function labChainPayload(bridge = LAB_BRIDGE): string {
  const t: TablePayload = { table: 'filter', chains: [{ name: LAB_CHAIN, rules: [['-i', bridge, '-o', bridge, '-j', 'ACCEPT']] }] };
  return buildPayload([t]);
}

/** The payload deleting SKIFF-LAB (after its jump is gone). Pure. */
export function labChainDeletePayload(): string {
  return buildPayload([{ table: 'filter', chains: [], deleteChains: [LAB_CHAIN] }]);
}

/** The backend whose filter table has DOCKER-USER (nft first), or undefined. */
export async function dockerBackend(): Promise<Iptables | undefined> {
  for (const b of ['nft', 'legacy'] as Backend[]) {
    const ipt = new Iptables(b);
    try {
      if ((await ipt.listChain('filter', DOCKER_USER)) !== undefined) return ipt;
    } catch {
      // that backend's binary is missing or unusable: try the other
    }
  }
  return undefined;
}

/** Idempotent: SKIFF-LAB with its one rule, jumped to first from DOCKER-USER. Returns false when Docker manages no rules. */
export async function ensureLabRules(): Promise<boolean> {
  const ipt = await dockerBackend();
  if (!ipt) return false;
  await ipt.restore('filter', labChainPayload());
  await ipt.ensureJump('filter', DOCKER_USER, LAB_JUMP, 'first');
  return true;
}

/** Removes the jump and the chain, in every backend; succeeds when they are already gone. */
export async function removeLabRules(): Promise<number> {
  let removed = 0;
  for (const b of ['nft', 'legacy'] as Backend[]) {
    const ipt = new Iptables(b);
    try {
      removed += await ipt.deleteJumps('filter', DOCKER_USER, LAB_CHAIN);
      if ((await ipt.listChain('filter', LAB_CHAIN)) !== undefined) {
        await ipt.restore('filter', labChainDeletePayload());
        removed++;
      }
    } catch (err) {
      // A missing backend binary is nothing to remove; anything else must be seen.
      if (!/ENOENT|not found|No such file/i.test((err as Error).message)) throw err;
    }
  }
  return removed;
}
