/**
 * The sync loop's decisions, with a fake clock and a recording rule mode (the
 * real modes are exercised by test/proxy.test.ts and bench/proxy.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../../common/clock.js';
import { logger } from '../../common/log.js';
import type { Obj } from '../../controlplane/controllers/objects.js';
import { Proxier, type RuleMode, type SyncResult } from './proxier.js';
import type { ServicePort } from './model.js';
import { chooseMode } from './proxy.js';
import { parseAffinityJson } from './nft.js';
import { SERVICES, SLICES, TOPOLOGY } from './fixtures.js';

const log = logger('proxier-test');
log.level = 'silent';

class RecordingMode implements RuleMode {
  readonly name = 'fake';
  syncs: { full: boolean; services: string[] }[] = [];
  private batch: string[] = [];
  fail = 0;
  set = new Map<string, ServicePort[]>();
  setService(svc: string, ports: ServicePort[]): void {
    this.batch.push(svc);
    this.set.set(svc, ports);
  }
  async sync(full: boolean): Promise<SyncResult> {
    this.syncs.push({ full, services: this.batch.sort() });
    this.batch = [];
    if (this.fail > 0) {
      this.fail--;
      throw new Error('boom');
    }
    return { kind: full ? 'full' : 'partial', bytes: 1 };
  }
  async teardown(): Promise<void> {}
}

function setup(o: { min?: number; full?: number } = {}) {
  const clock = new FakeClock();
  const mode = new RecordingMode();
  const services = new Map<string, Obj>(SERVICES.map((s) => [`${s.metadata.namespace}/${s.metadata.name}`, s]));
  const p = new Proxier({
    mode,
    log,
    clock,
    topology: TOPOLOGY,
    minSyncIntervalMs: o.min ?? 1000,
    fullSyncIntervalMs: o.full ?? 30_000,
    source: {
      service: (k) => services.get(k),
      slices: (k) => SLICES.filter((s) => `${s.metadata.namespace}/${s.metadata.labels['kubernetes.io/service-name']}` === k),
      serviceKeys: () => [...services.keys()],
    },
  });
  return { clock, mode, p, services };
}

/** Lets the async sync started by a timer finish. */
const settle = (): Promise<void> => new Promise((r) => setImmediate(r));

test('the first sync is full and covers every service', async () => {
  const { clock, mode, p } = setup();
  p.start();
  clock.advance(0);
  await settle();
  assert.equal(mode.syncs.length, 1);
  assert.equal(mode.syncs[0]!.full, true);
  assert.equal(mode.syncs[0]!.services.length, SERVICES.length);
  assert.equal(mode.set.get('default/web')![0]!.internal.length, 3);
  assert.deepEqual(mode.set.get('default/ext'), [], 'ExternalName: no rules');
  p.stop();
});

test('changes arriving together are batched into one partial sync, at most one per interval', async () => {
  const { clock, mode, p } = setup({ min: 1000 });
  p.start();
  clock.advance(0);
  await settle();
  p.changed('default/web');
  p.changed('default/sticky');
  p.changed('default/web');
  clock.advance(500);
  await settle();
  assert.equal(mode.syncs.length, 1, 'not before the minimum interval');
  clock.advance(500);
  await settle();
  assert.deepEqual(mode.syncs[1], { full: false, services: ['default/sticky', 'default/web'] });
  p.changed('default/gone');
  clock.advance(1000);
  await settle();
  assert.deepEqual(mode.syncs[2], { full: false, services: ['default/gone'] });
  assert.deepEqual(mode.set.get('default/gone'), [], 'a deleted service is synced as no ports');
  p.stop();
});

test('a periodic full resync runs even without changes', async () => {
  const { clock, mode, p } = setup({ min: 0, full: 5000 });
  p.start();
  clock.advance(0);
  await settle();
  clock.advance(5000);
  await settle();
  assert.equal(mode.syncs.length, 2);
  assert.deepEqual(mode.syncs[1], { full: true, services: [] });
  clock.advance(5000);
  await settle();
  assert.equal(mode.syncs.filter((s) => s.full).length, 3);
  p.stop();
});

test('a failed sync is retried with backoff, as a full one', async () => {
  const { clock, mode, p } = setup({ min: 0 });
  p.start();
  clock.advance(0);
  await settle();
  mode.fail = 2;
  p.changed('default/web');
  clock.advance(0);
  await settle();
  assert.equal(mode.syncs.length, 2);
  assert.equal(p.stats.failures, 1);
  clock.advance(999);
  await settle();
  assert.equal(mode.syncs.length, 2, 'waits 1 s before retrying');
  clock.advance(1);
  await settle();
  assert.equal(mode.syncs.length, 3);
  assert.equal(mode.syncs[2]!.full, true);
  clock.advance(2000);
  await settle();
  assert.equal(mode.syncs.length, 4, 'second retry after 2 s');
  assert.equal(p.stats.failures, 2);
  assert.equal(p.stats.fullSyncs, 2, 'the first and the successful retry');
  p.stop();
});

test('waitForSync resolves after the next sync', async () => {
  const { clock, mode, p } = setup({ min: 0 });
  p.start();
  const w = p.waitForSync();
  clock.advance(0);
  await w;
  assert.equal(mode.syncs.length, 1);
  p.stop();
});

test('chooseMode: the host backend decides; nft only where iptables is nf_tables', () => {
  assert.deepEqual(chooseMode('nft', true), { mode: 'nftables' });
  assert.deepEqual(chooseMode('legacy', true), { mode: 'iptables' });
  assert.equal(chooseMode('nft', false).mode, 'iptables');
  assert.match(chooseMode('nft', false).warning!, /apt-get install -y nftables/);
  assert.deepEqual(chooseMode('nft', true, 'iptables'), { mode: 'iptables' });
  assert.match(chooseMode('legacy', true, 'nftables').warning!, /legacy/);
});

test('parseAffinityJson reads nft -j map elements', () => {
  const json = '{"nftables": [{"metainfo": {"version": "1.0.6"}}, {"map": {"family": "ip", "name": "affinity", "table": "skiff", "elem": [[{"elem": {"val": {"concat": ["1.2.3.4", "10.96.0.5", "tcp", 80]}, "timeout": 60, "expires": 59}}, {"concat": ["10.244.0.5", 8080]}]]}}]}';
  assert.deepEqual(parseAffinityJson(json), [{ client: '1.2.3.4', dst: '10.96.0.5', protocol: 'tcp', port: 80, endpoint: '10.244.0.5', endpointPort: 8080 }]);
  assert.deepEqual(parseAffinityJson('not json'), []);
});

test('stale UDP flows are cleared after the sync that moved their service away', async () => {
  const clock = new FakeClock();
  const mode = new RecordingMode();
  const cleared: unknown[] = [];
  const dns = { metadata: { namespace: 'kube-system', name: 'kube-dns' }, spec: { clusterIP: '10.96.0.10', ports: [{ name: 'dns', port: 53, protocol: 'UDP' }] } };
  let eps = ['10.244.0.5', '10.244.0.6'];
  const sl = (): Obj[] => [{ metadata: { namespace: 'kube-system', labels: { 'kubernetes.io/service-name': 'kube-dns' } }, addressType: 'IPv4', ports: [{ name: 'dns', port: 53, protocol: 'UDP' }], endpoints: eps.map((ip) => ({ addresses: [ip] })) }];
  const p = new Proxier({
    mode,
    log,
    clock,
    topology: TOPOLOGY,
    minSyncIntervalMs: 0,
    conntrack: { clear: async (f) => void cleared.push(...f) },
    source: { service: () => dns, slices: sl, serviceKeys: () => ['kube-system/kube-dns'] },
  });
  p.start();
  clock.advance(0);
  await settle();
  assert.deepEqual(cleared, []);
  eps = ['10.244.0.6'];
  p.changed('kube-system/kube-dns');
  clock.advance(0);
  await settle();
  assert.deepEqual(cleared, [{ dst: '10.96.0.10', port: 53, endpoint: '10.244.0.5' }]);
  p.stop();
});
