import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../../common/clock.js';
import { ApiError } from '../../controlplane/controllers/client.js';
import { FakeApi } from './fakes.js';
import { microTime, NodeLease } from './lease.js';
import { Loop } from './loop.js';
import { logger, setLogLevel } from '../../common/log.js';

setLogLevel('silent');

const PATH = '/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/n1';

describe('NodeLease', () => {
  it('formats MicroTime with six fractional digits', () => {
    assert.equal(microTime(Date.parse('2025-01-01T00:00:00.123Z')), '2025-01-01T00:00:00.123000Z');
  });

  it('creates the lease owned by the node, then renews renewTime', async () => {
    const api = new FakeApi();
    const clock = new FakeClock();
    const l = new NodeLease(api, 'n1', clock);
    l.nodeUid = 'node-uid';
    await l.renew();
    const created = api.objects.get(PATH)!;
    assert.deepEqual(created.spec, { holderIdentity: 'n1', leaseDurationSeconds: 40, renewTime: '2025-01-01T00:00:00.000000Z' });
    assert.deepEqual(created.metadata.ownerReferences, [{ apiVersion: 'v1', kind: 'Node', name: 'n1', uid: 'node-uid' }]);
    clock.advance(10_000);
    await l.renew();
    assert.equal(api.objects.get(PATH)!.spec.renewTime, '2025-01-01T00:00:10.000000Z');
    assert.deepEqual(api.calls, ['GET ' + PATH, 'POST /apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases', 'PUT ' + PATH]);
  });

  it('re-reads on a conflict and recreates a deleted lease', async () => {
    const api = new FakeApi();
    const clock = new FakeClock();
    const l = new NodeLease(api, 'n1', clock);
    await l.renew();
    // Someone else writes the lease: our copy is stale.
    await api.update(PATH, { ...api.objects.get(PATH)!, metadata: { ...api.objects.get(PATH)!.metadata } });
    clock.advance(1000);
    await l.renew();
    assert.equal(api.objects.get(PATH)!.spec.renewTime, '2025-01-01T00:00:01.000000Z');
    api.objects.delete(PATH);
    clock.advance(1000);
    await l.renew();
    assert.equal(api.objects.get(PATH)!.spec.renewTime, '2025-01-01T00:00:02.000000Z');
  });
});

describe('Loop', () => {
  it('runs at the interval, backs off on failures from 200 ms, and recovers', async () => {
    const clock = new FakeClock();
    const times: number[] = [];
    let fail = 0;
    const loop = new Loop('test', clock, async () => {
      times.push(clock.now() - Date.parse('2025-01-01T00:00:00Z'));
      if (fail > 0) {
        fail--;
        throw new ApiError(503, 'ServiceUnavailable', 'down');
      }
    }, { intervalMs: 10_000 }, logger('test'));
    const settle = async (): Promise<void> => {
      for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
    };
    loop.start();
    clock.advance(0);
    await settle();
    fail = 3;
    for (const step of [10_000, 200, 400, 800]) {
      clock.advance(step);
      await settle();
    }
    clock.advance(10_000);
    await settle();
    assert.deepEqual(times, [0, 10_000, 10_200, 10_600, 11_400, 21_400]);
    assert.equal(loop.failureCount, 0);
    await loop.stop();
    clock.advance(60_000);
    await settle();
    assert.equal(times.length, 6, 'no run after stop');
  });
});
