import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { StatusError } from './errors.js';
import { matches, parseLabelSelector, selectorFromObject, selectorToString, type LabelSelector, type Selector } from './labels.js';

function parseError(s: string): string {
  try {
    parseLabelSelector(s);
  } catch (e) {
    assert.ok(e instanceof StatusError, String(e));
    assert.equal(e.code, 400);
    assert.equal(e.reason, 'BadRequest');
    return e.message;
  }
  assert.fail(`expected ${JSON.stringify(s)} to be rejected`);
}

const web = { app: 'web', tier: 'fe', version: '3' };

describe('parseLabelSelector', () => {
  it('parses every operator', () => {
    assert.deepEqual(parseLabelSelector('app=web'), [{ key: 'app', operator: 'Equals', values: ['web'] }]);
    assert.deepEqual(parseLabelSelector('app==web'), [{ key: 'app', operator: 'Equals', values: ['web'] }]);
    assert.deepEqual(parseLabelSelector('app!=web'), [{ key: 'app', operator: 'NotEquals', values: ['web'] }]);
    assert.deepEqual(parseLabelSelector('tier in (fe, be)'), [{ key: 'tier', operator: 'In', values: ['be', 'fe'] }]);
    assert.deepEqual(parseLabelSelector('tier notin (be)'), [{ key: 'tier', operator: 'NotIn', values: ['be'] }]);
    assert.deepEqual(parseLabelSelector('app'), [{ key: 'app', operator: 'Exists', values: [] }]);
    assert.deepEqual(parseLabelSelector('!canary'), [{ key: 'canary', operator: 'DoesNotExist', values: [] }]);
    assert.deepEqual(parseLabelSelector('version>2'), [{ key: 'version', operator: 'GreaterThan', values: ['2'] }]);
    assert.deepEqual(parseLabelSelector('version<10'), [{ key: 'version', operator: 'LessThan', values: ['10'] }]);
  });

  it('ANDs comma-separated requirements, sorted by key, whitespace ignored', () => {
    const sel = parseLabelSelector('  tier in (fe) ,  app = web,!canary, example.com/team');
    assert.deepEqual(
      sel.map((r) => r.key),
      ['app', 'canary', 'example.com/team', 'tier'],
    );
    assert.equal(matches(sel, { ...web, 'example.com/team': 'x' }), true);
    assert.equal(matches(sel, { ...web, 'example.com/team': 'x', canary: 'true' }), false);
  });

  it('empty (or blank) selects everything', () => {
    assert.deepEqual(parseLabelSelector(''), []);
    assert.deepEqual(parseLabelSelector('   '), []);
    assert.equal(matches(parseLabelSelector(''), undefined), true);
  });

  it('empty values as Kubernetes allows them: k=, k==, (), (a,)', () => {
    assert.deepEqual(parseLabelSelector('k='), [{ key: 'k', operator: 'Equals', values: [''] }]);
    assert.deepEqual(parseLabelSelector('k=='), [{ key: 'k', operator: 'Equals', values: [''] }]);
    assert.deepEqual(parseLabelSelector('k in ()'), [{ key: 'k', operator: 'In', values: [''] }]);
    assert.deepEqual(parseLabelSelector('k in (a,)'), [{ key: 'k', operator: 'In', values: ['', 'a'] }]);
    assert.equal(matches(parseLabelSelector('k='), { k: '' }), true);
    assert.equal(matches(parseLabelSelector('k='), {}), false);
  });

  it('treats in/notin as identifiers in value position', () => {
    assert.deepEqual(parseLabelSelector('k in (in,notin)'), [{ key: 'k', operator: 'In', values: ['in', 'notin'] }]);
  });

  it('rejects garbage with apimachinery-style messages', () => {
    assert.equal(parseError('a in ('), "unable to parse requirement: found '', expected: ',', ')' or identifier");
    assert.equal(parseError('=x'), "found '=', expected: !, identifier, or 'end of string'");
    assert.match(parseError('k==='), /unable to parse requirement: found '=', expected: identifier/);
    assert.match(parseError('a in (b c)'), /found 'c', expected: ',' or '\)'/);
    assert.match(parseError('a in b'), /found 'b' expected: '\('/);
    assert.match(parseError('a,'), /found '', expected: identifier after ','/);
    assert.match(parseError('a b'), /found 'b', expected: '=', '!=', '==', 'in', notin'/);
    assert.match(parseError('!a=b'), /found '=', expected: ',' or 'end of string'/);
    assert.match(parseError('version>x'), /for 'Gt', 'Lt' operators, the value must be an integer/);
    assert.match(parseError('version<'), /must be an integer/);
  });

  it('validates keys as qualified names', () => {
    assert.match(parseError('a$b=c'), /unable to parse requirement: key: Invalid value: "a\$b": name part must consist of alphanumeric/);
    assert.match(parseError('-a'), /name part must consist/);
    assert.match(parseError('Example.com/a=b'), /prefix part a lowercase RFC 1123 subdomain/);
    assert.match(parseError('/a=b'), /prefix part must be non-empty/);
    assert.match(parseError('a/b/c=d'), /a qualified name must consist/);
    assert.match(parseError(`${'k'.repeat(64)}=v`), /name part must be no more than 63 characters/);
    assert.doesNotThrow(() => parseLabelSelector(`app.kubernetes.io/${'k'.repeat(63)}=v`));
  });

  it('validates values', () => {
    assert.match(parseError(`k=${'v'.repeat(64)}`), /values\[0\]\[k\]: Invalid value: "v+": must be no more than 63 characters/);
    assert.match(parseError('k=-v'), /a valid label must be an empty string or consist of alphanumeric characters/);
    assert.match(parseError('k in (ok, bad_)'), /Invalid value: "bad_"/);
    assert.doesNotThrow(() => parseLabelSelector(`k=${'v'.repeat(63)}`));
    assert.doesNotThrow(() => parseLabelSelector('k=a-b_c.D9'));
  });
});

describe('matches', () => {
  const m = (s: string, labels?: Record<string, string>) => matches(parseLabelSelector(s), labels);
  it('Equals / NotEquals', () => {
    assert.equal(m('app=web', web), true);
    assert.equal(m('app=api', web), false);
    assert.equal(m('app!=api', web), true);
    assert.equal(m('app!=web', web), false);
    assert.equal(m('missing!=x', web), true, 'NotEquals matches when the label is absent');
  });
  it('In / NotIn', () => {
    assert.equal(m('tier in (fe,be)', web), true);
    assert.equal(m('tier in (be)', web), false);
    assert.equal(m('missing in (x)', web), false);
    assert.equal(m('tier notin (be)', web), true);
    assert.equal(m('tier notin (fe,be)', web), false);
    assert.equal(m('missing notin (x)', web), true);
  });
  it('Exists / DoesNotExist', () => {
    assert.equal(m('app', web), true);
    assert.equal(m('missing', web), false);
    assert.equal(m('!missing', web), true);
    assert.equal(m('!app', web), false);
    assert.equal(m('!app', undefined), true);
  });
  it('GreaterThan / LessThan compare integers, never strings', () => {
    assert.equal(m('version>2', web), true);
    assert.equal(m('version>3', web), false);
    assert.equal(m('version<10', web), true, '3 < 10 numerically though "3" > "10" as strings');
    assert.equal(m('version<3', web), false);
    assert.equal(m('app>1', web), false, 'a non-integer label never matches');
    assert.equal(m('missing<5', web), false);
  });
});

describe('selectorFromObject', () => {
  it('null/undefined selects nothing; {} selects everything', () => {
    assert.equal(selectorFromObject(null), null);
    assert.equal(selectorFromObject(undefined), null);
    assert.deepEqual(selectorFromObject({}), []);
    assert.deepEqual(selectorFromObject({ matchLabels: {}, matchExpressions: [] }), []);
  });

  it('combines matchLabels and matchExpressions, sorted by key', () => {
    const sel = selectorFromObject({
      matchLabels: { tier: 'fe', app: 'web' },
      matchExpressions: [
        { key: 'env', operator: 'In', values: ['prod', 'staging'] },
        { key: 'canary', operator: 'DoesNotExist' },
        { key: 'zone', operator: 'NotIn', values: ['b'] },
        { key: 'version', operator: 'Exists', values: [] },
      ],
    }) as Selector;
    assert.deepEqual(
      sel.map((r) => `${r.key}:${r.operator}`),
      ['app:Equals', 'canary:DoesNotExist', 'env:In', 'tier:Equals', 'version:Exists', 'zone:NotIn'],
    );
    assert.equal(matches(sel, { ...web, env: 'prod', zone: 'a' }), true);
    assert.equal(matches(sel, { ...web, env: 'dev' }), false);
    assert.equal(matches(sel, { ...web, env: 'prod', canary: 'y' }), false);
  });

  it('throws 400 for bad operators, keys, values and value counts', () => {
    const bad: LabelSelector[] = [
      { matchExpressions: [{ key: 'a', operator: 'Gt', values: ['1'] }] },
      { matchExpressions: [{ key: 'a', operator: 'in', values: ['1'] }] },
      { matchExpressions: [{ key: 'a', operator: 'In', values: [] }] },
      { matchExpressions: [{ key: 'a', operator: 'In' }] },
      { matchExpressions: [{ key: 'a', operator: 'Exists', values: ['x'] }] },
      { matchLabels: { 'bad key': 'x' } },
      { matchLabels: { a: 'bad value' } },
    ];
    for (const s of bad) {
      assert.throws(
        () => selectorFromObject(s),
        (e: unknown) => e instanceof StatusError && e.code === 400,
        JSON.stringify(s),
      );
    }
    assert.throws(() => selectorFromObject(bad[0]), /"Gt" is not a valid label selector operator/);
  });
});

describe('selectorToString', () => {
  it('renders canonically and round-trips', () => {
    assert.equal(selectorToString(selectorFromObject({ matchLabels: { app: 'x' } }) as Selector), 'app=x');
    const s = 'tier notin (c,a),app==web,!canary,version>1,env in (prod,dev),x!=y,has';
    const str = selectorToString(parseLabelSelector(s));
    assert.equal(str, 'app=web,!canary,env in (dev,prod),has,tier notin (a,c),version>1,x!=y');
    assert.deepEqual(parseLabelSelector(str), parseLabelSelector(s));
    assert.equal(selectorToString([]), '');
  });
  it('sorts requirements built by hand', () => {
    assert.equal(
      selectorToString([
        { key: 'b', operator: 'Equals', values: ['1'] },
        { key: 'a', operator: 'LessThan', values: ['5'] },
      ]),
      'a<5,b=1',
    );
  });
});
