import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { StatusError } from '../../common/errors.js';
import { ServiceAllocator, intToIp, ipToInt, parseCidr } from './allocator.js';

const svc = (name: string, spec: Record<string, unknown> = {}): Record<string, any> => ({ metadata: { name }, spec: { ports: [{ port: 80 }], ...spec } }); // eslint-disable-line @typescript-eslint/no-explicit-any

describe('ServiceAllocator', () => {
  it('parses CIDRs and converts addresses', () => {
    assert.deepEqual(parseCidr('10.96.0.0/12'), { base: ipToInt('10.96.0.0'), size: 2 ** 20 });
    assert.equal(intToIp(ipToInt('10.111.255.254')!), '10.111.255.254');
    assert.throws(() => parseCidr('10.96.0.0'));
    assert.throws(() => parseCidr('300.1.1.1/8'));
    assert.equal(ipToInt('1.2.3'), undefined);
  });

  it('hands out unique addresses above the static band, and reuses freed ones', () => {
    const a = new ServiceAllocator('10.0.0.0/24');
    const seen = new Set<string>();
    // /24: 256 addresses, network and broadcast excluded, 16 reserved for static use.
    for (let i = 0; i < 254 - 16; i++) {
      const s = svc(`s${i}`);
      a.allocate(s);
      assert.ok(!seen.has(s.spec.clusterIP), `duplicate ${s.spec.clusterIP}`);
      assert.ok(ipToInt(s.spec.clusterIP)! > ipToInt('10.0.0.16')!);
      seen.add(s.spec.clusterIP);
    }
    assert.throws(() => a.allocate(svc('full')), StatusError);
    const freed = svc('gone', { clusterIP: [...seen][0] });
    a.release(freed);
    const again = svc('again');
    a.allocate(again);
    assert.equal(again.spec.clusterIP, [...seen][0]);
  });

  it('accepts a static address once, and refuses one out of range', () => {
    const a = new ServiceAllocator('10.96.0.0/12');
    a.allocate(svc('dns', { clusterIP: '10.96.0.10' }));
    assert.throws(() => a.allocate(svc('dns2', { clusterIP: '10.96.0.10' })), /already allocated/);
    assert.throws(() => a.allocate(svc('far', { clusterIP: '192.168.0.1' })), /not in the valid range/);
    const headless = svc('h', { clusterIP: 'None' });
    a.allocate(headless);
    assert.deepEqual(headless.spec.clusterIPs, ['None']);
  });

  it('allocates node ports for NodePort services, keeps them on update, frees them on type change', () => {
    const a = new ServiceAllocator('10.96.0.0/12', 30000, 30002);
    const s = svc('np', { type: 'NodePort', ports: [{ port: 80 }, { port: 443 }] });
    a.allocate(s);
    const ports = s.spec.ports.map((p: { nodePort: number }) => p.nodePort);
    assert.equal(new Set(ports).size, 2);
    assert.throws(() => a.allocate(svc('dup', { type: 'NodePort', ports: [{ port: 1, nodePort: ports[0] }] })), /already allocated/);
    const upd = structuredClone(s);
    a.update(upd, s); // same ports: nothing new taken, nothing lost
    a.commitUpdate(upd, s);
    const toClusterIP = { ...structuredClone(s), spec: { ...structuredClone(s.spec), type: 'ClusterIP' } };
    a.update(toClusterIP, s);
    a.commitUpdate(toClusterIP, s);
    assert.equal(toClusterIP.spec.ports[0].nodePort, undefined);
    const next = svc('next', { type: 'NodePort', ports: [{ port: 1 }, { port: 2 }, { port: 3 }] });
    a.allocate(next);
    assert.equal(new Set(next.spec.ports.map((p: { nodePort: number }) => p.nodePort)).size, 3);
    assert.throws(() => a.allocate(svc('over', { type: 'NodePort' })), /range is full/);
  });

  it('rolls back what it took when a later step fails', () => {
    const a = new ServiceAllocator('10.96.0.0/12', 30000, 30001);
    a.allocate(svc('a', { type: 'NodePort', ports: [{ port: 1, nodePort: 30000 }] }));
    const bad = svc('b', { clusterIP: '10.96.0.20', type: 'NodePort', ports: [{ port: 1, nodePort: 30000 }] });
    assert.throws(() => a.allocate(bad), /already allocated/);
    // The static address taken before the port failed is free again.
    a.allocate(svc('c', { clusterIP: '10.96.0.20' }));
  });
});
