import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ensureHostNetwork, forwardPayload, routeVia, sameRules, teardownPayload, validCIDR } from './network.js';

test('forwardPayload: golden text, only our chain, no policy', () => {
  assert.equal(
    forwardPayload('10.244.0.0/16'),
    [
      '*filter',
      ':SKIFF-FORWARD - [0:0]',
      '-A SKIFF-FORWARD -s 10.244.0.0/16 -m comment --comment "skiff: from pods" -j ACCEPT',
      '-A SKIFF-FORWARD -d 10.244.0.0/16 -m comment --comment "skiff: to pods" -j ACCEPT',
      'COMMIT',
      '',
    ].join('\n'),
  );
});

test('teardownPayload: declares then deletes SKIFF-FORWARD (a missing chain is fine)', () => {
  assert.equal(teardownPayload(), '*filter\n:SKIFF-FORWARD - [0:0]\n-X SKIFF-FORWARD\nCOMMIT\n');
});

test('sameRules compares an iptables -S listing with the payload, by tokens', () => {
  const listing = [
    '-N SKIFF-FORWARD',
    '-A SKIFF-FORWARD -s 10.244.0.0/16 -m comment --comment "skiff: from pods" -j ACCEPT',
    '-A SKIFF-FORWARD -d 10.244.0.0/16 -m comment --comment "skiff: to pods" -j ACCEPT',
  ].join('\n');
  assert.equal(sameRules(listing, forwardPayload('10.244.0.0/16')), true);
  assert.equal(sameRules(listing, forwardPayload('10.245.0.0/16')), false, 'another cluster CIDR');
  assert.equal(sameRules('-N SKIFF-FORWARD\n', forwardPayload('10.244.0.0/16')), false, 'flushed by someone');
  assert.equal(sameRules(listing + '\n' + listing.split('\n')[1], forwardPayload('10.244.0.0/16')), false, 'an extra rule');
});

test('routeVia finds the device of a route in ip route output', () => {
  assert.equal(routeVia('10.96.0.0/12 dev skiff-svc scope link \n', 'skiff-svc'), true);
  assert.equal(routeVia('10.96.0.0/12 via 192.0.2.1 dev eth0 \n', 'skiff-svc'), false);
  assert.equal(routeVia('', 'skiff-svc'), false);
});

test('validCIDR accepts IPv4 CIDRs only', () => {
  assert.equal(validCIDR('10.96.0.0/12'), true);
  assert.equal(validCIDR('0.0.0.0/0'), true);
  for (const bad of ['10.96.0.0', '10.96.0.256/12', '10.96.0.0/33', '10.96.0.0/12; rm -rf /', 'fd00::/64', '']) {
    assert.equal(validCIDR(bad), false, bad);
  }
});

test('ensureHostNetwork refuses a bad CIDR before touching anything', async () => {
  const runner = { calls: 0, async run() { this.calls++; return { code: 0, stdout: '', stderr: '' }; } };
  await assert.rejects(ensureHostNetwork({ clusterCIDR: '10.244.0.0/16', serviceCIDR: 'nope', runner }), /serviceCIDR "nope" is not an IPv4 CIDR/);
  assert.equal(runner.calls, 0);
});
