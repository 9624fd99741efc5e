import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Backoff } from './backoff.js';

test('first restart is immediate, then 10 s doubling to the maximum', () => {
  const b = new Backoff(10_000, 40_000);
  const k = Backoff.key('u', 'c');
  assert.equal(b.waitUntil(k, 0, 0), undefined);
  b.next(k, 0);
  assert.equal(b.waitUntil(k, 1_000, 1_000), 11_000);
  assert.equal(b.waitUntil(k, 1_000, 11_000), undefined);
  b.next(k, 11_000);
  assert.equal(b.waitUntil(k, 12_000, 12_000), 32_000);
  b.next(k, 32_000);
  b.next(k, 80_000);
  assert.equal(b.waitUntil(k, 80_000, 80_000), 120_000, 'capped at the maximum');
});

test('an entry idle for twice the maximum is forgotten', () => {
  const b = new Backoff(10_000, 40_000);
  const k = Backoff.key('u', 'c');
  b.next(k, 0);
  b.next(k, 1);
  assert.equal(b.waitUntil(k, 100_000, 100_000), undefined);
  b.next(k, 100_000);
  assert.equal(b.waitUntil(k, 100_000, 100_000), 110_000);
});

test('forgetPod drops only that pod', () => {
  const b = new Backoff();
  b.next(Backoff.key('a', 'c'), 0);
  b.next(Backoff.key('b', 'c'), 0);
  b.forgetPod('a');
  assert.equal(b.waitUntil(Backoff.key('a', 'c'), 0, 1), undefined);
  assert.ok(b.waitUntil(Backoff.key('b', 'c'), 0, 1));
});
