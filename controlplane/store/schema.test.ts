import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { keyRange, prefixEnd, rowToEvent } from './schema.js';

describe('prefixEnd', () => {
  it('bumps the last code point', () => {
    assert.equal(prefixEnd('/registry/pods/'), '/registry/pods0');
    assert.equal(prefixEnd('a%'), 'a&');
    assert.equal(prefixEnd('a\uffff'), 'a\u{10000}');
    assert.equal(prefixEnd('a\ud7ff'), 'a\ue000');
  });

  it('carries past U+10FFFF and has no end for the empty prefix', () => {
    assert.equal(prefixEnd('a\u{10FFFF}'), 'b');
    assert.equal(prefixEnd('\u{10FFFF}'), undefined);
    assert.equal(prefixEnd(''), undefined);
  });
});

describe('keyRange', () => {
  it('uses the tighter lower bound of prefix and startAfter', () => {
    assert.deepEqual(keyRange('name', '/a/'), { sql: 'name >= ? AND name < ?', params: ['/a/', '/a0'] });
    assert.deepEqual(keyRange('name', '/a/', '/a/x'), { sql: 'name > ? AND name < ?', params: ['/a/x', '/a0'] });
    assert.deepEqual(keyRange('name', '/a/', '/0'), { sql: 'name >= ? AND name < ?', params: ['/a/', '/a0'] });
    assert.deepEqual(keyRange('name', ''), { sql: 'name >= ?', params: [''] });
  });
});

describe('rowToEvent', () => {
  it('builds the whole event from one log row', () => {
    const base = { name: '/k', create_revision: 3, value: 'v', old_value: null };
    assert.equal(rowToEvent({ ...base, id: 3, created: 1, deleted: 0, prev_revision: 0 }).prev, undefined);
    const up = rowToEvent({ ...base, id: 5, created: 0, deleted: 0, prev_revision: 3, old_value: 'old' });
    assert.deepEqual(up.prev, { key: '/k', value: 'old', createRevision: 3, modRevision: 3 });
    const del = rowToEvent({ ...base, id: 7, created: 0, deleted: 1, prev_revision: 5 });
    assert.equal(del.type, 'delete');
    assert.equal(del.kv.modRevision, 7);
    assert.equal(del.prev?.modRevision, 5);
  });
});
