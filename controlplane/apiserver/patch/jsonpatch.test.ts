import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { StatusError } from '../../../common/errors.js';
import { applyJsonPatch, parsePointer } from './jsonpatch.js';

const doc = () => ({
  metadata: { name: 'web', labels: { app: 'web' }, 'a/b': 1, 'm~n': 2 },
  spec: { replicas: 1, list: ['a', 'b', 'c'] },
});

function status(fn: () => unknown): StatusError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof StatusError, `expected StatusError, got ${String(e)}`);
    return e;
  }
  assert.fail('expected an error');
}

describe('JSON pointer', () => {
  it('decodes ~1 and ~0 in the right order', () => {
    assert.deepEqual(parsePointer(''), []);
    assert.deepEqual(parsePointer('/a~1b/m~0n/~01'), ['a/b', 'm~n', '~1']);
    assert.deepEqual(parsePointer('/'), ['']);
  });
  it('rejects pointers without a leading slash and bad escapes', () => {
    assert.equal(status(() => parsePointer('a/b')).code, 400);
    assert.equal(status(() => parsePointer('/a~2')).code, 400);
    assert.equal(status(() => parsePointer('/a~')).code, 400);
  });
});

describe('applyJsonPatch operations', () => {
  it('add: object member, array insert, "-" append, escaped keys', () => {
    const out = applyJsonPatch(doc(), [
      { op: 'add', path: '/metadata/labels/tier', value: 'fe' },
      { op: 'add', path: '/spec/list/1', value: 'x' },
      { op: 'add', path: '/spec/list/-', value: 'z' },
      { op: 'add', path: '/spec/list/5', value: 'end' },
      { op: 'add', path: '/metadata/a~1b', value: 10 },
      { op: 'add', path: '/spec/nil', value: null },
    ]) as ReturnType<typeof doc>;
    assert.deepEqual(out.metadata.labels, { app: 'web', tier: 'fe' });
    assert.deepEqual(out.spec.list, ['a', 'x', 'b', 'c', 'z', 'end']);
    assert.equal(out.metadata['a/b'], 10);
    assert.equal((out.spec as Record<string, unknown>).nil, null);
  });

  it('add at the root replaces the document', () => {
    assert.deepEqual(applyJsonPatch(doc(), [{ op: 'add', path: '', value: { a: 1 } }]), { a: 1 });
  });

  it('remove: member and array element', () => {
    const out = applyJsonPatch(doc(), [
      { op: 'remove', path: '/metadata/labels/app' },
      { op: 'remove', path: '/spec/list/0' },
      { op: 'remove', path: '/metadata/m~0n' },
    ]) as ReturnType<typeof doc>;
    assert.deepEqual(out.metadata.labels, {});
    assert.deepEqual(out.spec.list, ['b', 'c']);
    assert.equal('m~n' in out.metadata, false);
  });

  it('replace: member, array element and root', () => {
    const out = applyJsonPatch(doc(), [
      { op: 'replace', path: '/spec/replicas', value: 3 },
      { op: 'replace', path: '/spec/list/2', value: 'C' },
    ]) as ReturnType<typeof doc>;
    assert.equal(out.spec.replicas, 3);
    assert.deepEqual(out.spec.list, ['a', 'b', 'C']);
    assert.deepEqual(applyJsonPatch(doc(), [{ op: 'replace', path: '', value: [1] }]), [1]);
  });

  it('move: between members and within an array', () => {
    const out = applyJsonPatch(doc(), [
      { op: 'move', from: '/metadata/labels/app', path: '/metadata/labels/name' },
      { op: 'move', from: '/spec/list/0', path: '/spec/list/-' },
    ]) as ReturnType<typeof doc>;
    assert.deepEqual(out.metadata.labels, { name: 'web' });
    assert.deepEqual(out.spec.list, ['b', 'c', 'a']);
  });

  it('copy: deep copies the value', () => {
    const out = applyJsonPatch(doc(), [
      { op: 'copy', from: '/metadata/labels', path: '/spec/selector' },
      { op: 'add', path: '/spec/selector/extra', value: 'y' },
    ]) as Record<string, Record<string, unknown>>;
    assert.deepEqual(out.spec.selector, { app: 'web', extra: 'y' });
    assert.deepEqual(out.metadata.labels, { app: 'web' });
  });

  it('test: passes on deep equality regardless of key order', () => {
    const out = applyJsonPatch(doc(), [
      { op: 'test', path: '/metadata/labels', value: { app: 'web' } },
      { op: 'test', path: '/spec', value: { list: ['a', 'b', 'c'], replicas: 1 } },
      { op: 'replace', path: '/spec/replicas', value: 2 },
    ]) as ReturnType<typeof doc>;
    assert.equal(out.spec.replicas, 2);
  });

  it('never mutates its input and applies all-or-nothing', () => {
    const input = doc();
    const before = structuredClone(input);
    applyJsonPatch(input, [{ op: 'add', path: '/spec/list/-', value: 'd' }]);
    assert.throws(() => applyJsonPatch(input, [
      { op: 'replace', path: '/spec/replicas', value: 9 },
      { op: 'test', path: '/spec/replicas', value: 1 },
    ]));
    assert.deepEqual(input, before);
  });

  it('an empty patch is a no-op copy', () => {
    const input = doc();
    const out = applyJsonPatch(input, []);
    assert.deepEqual(out, input);
    assert.notEqual(out, input);
  });
});

describe('applyJsonPatch errors', () => {
  it('400 for a body that is not an array of well-formed operations', () => {
    const cases: unknown[] = [
      { op: 'add', path: '/a', value: 1 },
      'nope',
      null,
      [1],
      [{ path: '/a' }],
      [{ op: 'frobnicate', path: '/a' }],
      [{ op: 'add', value: 1 }],
      [{ op: 'add', path: 5, value: 1 }],
      [{ op: 'add', path: '/a' }],
      [{ op: 'replace', path: '/a' }],
      [{ op: 'test', path: '/a' }],
      [{ op: 'move', path: '/a' }],
      [{ op: 'copy', path: '/a', from: 3 }],
      [{ op: 'add', path: 'a', value: 1 }],
    ];
    for (const c of cases) {
      const e = status(() => applyJsonPatch(doc(), c));
      assert.equal(e.code, 400, JSON.stringify(c));
      assert.equal(e.reason, 'BadRequest');
    }
  });

  it('422 naming the failed test and the values', () => {
    const e = status(() => applyJsonPatch(doc(), [{ op: 'test', path: '/metadata/labels/app', value: 'api' }]));
    assert.equal(e.code, 422);
    assert.equal(e.reason, 'Invalid');
    assert.match(e.message, /operation 0 \(test \/metadata\/labels\/app\)/);
    assert.match(e.message, /found "web", expected "api"/);
  });

  it('422 for paths that do not exist', () => {
    const cases: [string, unknown][] = [
      ['add into a missing parent', [{ op: 'add', path: '/spec/missing/x', value: 1 }]],
      ['remove a missing member', [{ op: 'remove', path: '/metadata/nope' }]],
      ['replace a missing member', [{ op: 'replace', path: '/spec/nope', value: 1 }]],
      ['move from a missing member', [{ op: 'move', from: '/nope', path: '/x' }]],
      ['copy from a missing member', [{ op: 'copy', from: '/nope', path: '/x' }]],
      ['test a missing member', [{ op: 'test', path: '/nope', value: null }]],
      ['add into a scalar', [{ op: 'add', path: '/spec/replicas/x', value: 1 }]],
      ['remove the root', [{ op: 'remove', path: '' }]],
    ];
    for (const [what, p] of cases) {
      const e = status(() => applyJsonPatch(doc(), p));
      assert.equal(e.code, 422, what);
    }
    assert.match(status(() => applyJsonPatch(doc(), [{ op: 'remove', path: '/metadata/nope' }])).message, /missing path: "\/metadata\/nope"/);
  });

  it('422 for array index problems', () => {
    const cases: unknown[] = [
      [{ op: 'add', path: '/spec/list/4', value: 'x' }],
      [{ op: 'replace', path: '/spec/list/3', value: 'x' }],
      [{ op: 'remove', path: '/spec/list/-' }],
      [{ op: 'remove', path: '/spec/list/01' }],
      [{ op: 'replace', path: '/spec/list/x', value: 1 }],
      [{ op: 'test', path: '/spec/list/-1', value: 1 }],
    ];
    for (const c of cases) assert.equal(status(() => applyJsonPatch(doc(), c)).code, 422, JSON.stringify(c));
    assert.match(status(() => applyJsonPatch(doc(), cases[0])).message, /index 4 is out of bounds for an array of length 3/);
  });

  it('422 for moving a value into its own child', () => {
    const e = status(() => applyJsonPatch(doc(), [{ op: 'move', from: '/spec', path: '/spec/inner' }]));
    assert.equal(e.code, 422);
    assert.match(e.message, /into its own child/);
  });
});
