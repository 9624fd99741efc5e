import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planJump } from '../../common/iptables.js';
import { DOCKER_USER, LAB_CHAIN, LAB_JUMP, labChainDeletePayload, labChainPayload } from './hostrules.js';

test('labChainPayload: one chain accepting only traffic that enters and leaves the lab bridge (golden text)', () => {
  assert.equal(labChainPayload(), '*filter\n:SKIFF-LAB - [0:0]\n-A SKIFF-LAB -i skiff-lab0 -o skiff-lab0 -j ACCEPT\nCOMMIT\n');
});

test('labChainDeletePayload: declared then deleted, so a chain already gone is fine (golden text)', () => {
  assert.equal(labChainDeletePayload(), '*filter\n:SKIFF-LAB - [0:0]\n-X SKIFF-LAB\nCOMMIT\n');
});

test('LAB_JUMP is in iptables\' canonical order: a listing with it first needs no change', () => {
  const listing = `-N ${DOCKER_USER}\n-A ${DOCKER_USER} -m comment --comment "skiff lab: pod traffic between lab nodes" -j ${LAB_CHAIN}\n-A ${DOCKER_USER} -j RETURN\n`;
  assert.deepEqual(planJump(listing, DOCKER_USER, LAB_JUMP, 'first'), { remove: [], insert: false });
  // Behind Docker's RETURN it would never be reached: moved first.
  const late = `-N ${DOCKER_USER}\n-A ${DOCKER_USER} -j RETURN\n-A ${DOCKER_USER} -m comment --comment "skiff lab: pod traffic between lab nodes" -j ${LAB_CHAIN}\n`;
  assert.equal(planJump(late, DOCKER_USER, LAB_JUMP, 'first').insert, true);
});
