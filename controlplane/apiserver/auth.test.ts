import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Authenticator, authorize, type Attributes, type UserInfo } from './auth.js';

const node: UserInfo = { name: 'system:node', groups: ['system:nodes', 'system:authenticated'] };
const admin: UserInfo = { name: 'admin', groups: ['system:masters', 'system:authenticated'] };
const slices = (verb: string, namespace: string, name?: string): Attributes => ({ verb, group: 'discovery.k8s.io', resource: 'endpointslices', namespace, name });

test('tokens map to the admin and node identities; anything else proves nothing', () => {
  const a = new Authenticator({ admin: 'a'.repeat(48), node: 'K10' + 'b'.repeat(48) });
  assert.deepEqual(a.authenticate(`Bearer ${'a'.repeat(48)}`)?.groups, admin.groups);
  assert.deepEqual(a.authenticate(`bearer K10${'b'.repeat(48)}`)?.groups, node.groups);
  assert.equal(a.authenticate('Bearer nope'), undefined);
  assert.equal(a.authenticate(undefined), undefined);
});

test('nodes manage kube-system/kube-dns-* EndpointSlices (their DNS endpoint) and nothing else of the kind', () => {
  assert.equal(authorize(node, slices('create', 'kube-system')), undefined);
  for (const verb of ['update', 'patch', 'delete']) assert.equal(authorize(node, slices(verb, 'kube-system', 'kube-dns-n1')), undefined, verb);
  assert.match(authorize(node, slices('update', 'kube-system', 'kubernetes')) ?? '', /cannot update resource "endpointslices" in API group "discovery.k8s.io" in the namespace "kube-system"/);
  assert.ok(authorize(node, slices('create', 'default')));
  assert.ok(authorize(node, slices('delete', 'default', 'kube-dns-n1')));
  assert.ok(authorize(node, slices('deletecollection', 'kube-system')));
  assert.equal(authorize(node, slices('list', 'default')), undefined, 'reads stay allowed');
  assert.equal(authorize(admin, slices('delete', 'default', 'anything')), undefined);
});

test('the node rules that were there before: status, events, leases, pods create/delete; no services', () => {
  assert.equal(authorize(node, { verb: 'patch', group: '', resource: 'pods', subresource: 'status', namespace: 'd', name: 'p' }), undefined);
  assert.equal(authorize(node, { verb: 'create', group: '', resource: 'pods', namespace: 'd' }), undefined);
  assert.ok(authorize(node, { verb: 'update', group: '', resource: 'pods', namespace: 'd', name: 'p' }));
  assert.ok(authorize(node, { verb: 'create', group: '', resource: 'services', namespace: 'kube-system' }));
  assert.ok(authorize(node, { verb: 'update', group: '', resource: 'endpoints', namespace: 'kube-system', name: 'kube-dns-n1' }));
});
