import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mergePatch } from './mergepatch.js';

describe('JSON merge patch (RFC 7386)', () => {
  // Appendix A of RFC 7386, every row.
  const examples: [unknown, unknown, unknown][] = [
    [{ a: 'b' }, { a: 'c' }, { a: 'c' }],
    [{ a: 'b' }, { b: 'c' }, { a: 'b', b: 'c' }],
    [{ a: 'b' }, { a: null }, {}],
    [{ a: 'b', b: 'c' }, { a: null }, { b: 'c' }],
    [{ a: ['b'] }, { a: 'c' }, { a: 'c' }],
    [{ a: 'c' }, { a: ['b'] }, { a: ['b'] }],
    [{ a: { b: 'c' } }, { a: { b: 'd', c: null } }, { a: { b: 'd' } }],
    [{ a: [{ b: 'c' }] }, { a: [1] }, { a: [1] }],
    [['a', 'b'], ['c', 'd'], ['c', 'd']],
    [{ a: 'b' }, ['c'], ['c']],
    [{ a: 'foo' }, null, null],
    [{ a: 'foo' }, 'bar', 'bar'],
    [{ e: null }, { a: 1 }, { e: null, a: 1 }],
    [[1, 2], { a: 'b', c: null }, { a: 'b' }],
    [{}, { a: { bb: { ccc: null } } }, { a: { bb: {} } }],
  ];
  for (const [target, patch, result] of examples) {
    it(`${JSON.stringify(target)} + ${JSON.stringify(patch)} = ${JSON.stringify(result)}`, () => {
      assert.deepEqual(mergePatch(target, patch), result);
    });
  }

  it('the RFC section 3 example', () => {
    const target = {
      title: 'Goodbye!',
      author: { givenName: 'John', familyName: 'Doe' },
      tags: ['example', 'sample'],
      content: 'This will be unchanged',
    };
    const patch = { title: 'Hello!', phoneNumber: '+01-123-456-7890', author: { familyName: null }, tags: ['example'] };
    assert.deepEqual(mergePatch(target, patch), {
      title: 'Hello!',
      author: { givenName: 'John' },
      tags: ['example'],
      content: 'This will be unchanged',
      phoneNumber: '+01-123-456-7890',
    });
  });

  it('kubectl scale: only spec.replicas changes', () => {
    const deploy = { metadata: { name: 'web' }, spec: { replicas: 1, template: { spec: { containers: [{ name: 'c' }] } } } };
    const out = mergePatch(deploy, { spec: { replicas: 5 } }) as typeof deploy;
    assert.equal(out.spec.replicas, 5);
    assert.deepEqual(out.spec.template, deploy.spec.template);
  });

  it('never mutates inputs and returns no shared references', () => {
    const target = { a: { b: 1 }, keep: { deep: [1] } };
    const patch = { a: { c: { d: 2 } } };
    const snapshot = structuredClone({ target, patch });
    const out = mergePatch(target, patch) as { a: { c: { d: number } }; keep: { deep: number[] } };
    assert.deepEqual({ target, patch }, snapshot);
    out.a.c.d = 99;
    out.keep.deep.push(2);
    assert.deepEqual({ target, patch }, snapshot);
  });
});
