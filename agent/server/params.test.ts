import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { StatusError } from '../../common/errors.js';
import { goBool, parseContainerPath, parseExecQuery, parseLogQuery } from './params.js';

const qs = (s: string): URLSearchParams => new URLSearchParams(s);
const is400 = (re: RegExp) => (e: unknown): boolean => e instanceof StatusError && e.code === 400 && re.test(e.message);

describe('parseContainerPath', () => {
  it('splits and decodes the three segments after the prefix', () => {
    assert.deepEqual(parseContainerPath('/containerLogs/default/web/main', 'containerLogs'), { namespace: 'default', pod: 'web', container: 'main' });
    assert.deepEqual(parseContainerPath('/exec/ns/a%2Db/c', 'exec'), { namespace: 'ns', pod: 'a-b', container: 'c' });
  });

  it('rejects other shapes and encoded slashes', () => {
    assert.equal(parseContainerPath('/containerLogs/default/web', 'containerLogs'), undefined);
    assert.equal(parseContainerPath('/containerLogs/default/web/main/x', 'containerLogs'), undefined);
    assert.equal(parseContainerPath('/exec/default/web/main', 'containerLogs'), undefined);
    assert.equal(parseContainerPath('/exec/ns/a%2Fb/c', 'exec'), undefined);
    assert.throws(() => parseContainerPath('/exec/ns/%E0%A4%A/c', 'exec'), is400(/malformed path/));
  });
});

describe('goBool', () => {
  it('reads Go booleans; absent or empty is false', () => {
    for (const t of ['1', 't', 'T', 'true', 'TRUE', 'True']) assert.equal(goBool(qs(`x=${t}`), 'x'), true);
    for (const f of ['0', 'f', 'F', 'false', 'FALSE', 'False', '']) assert.equal(goBool(qs(`x=${f}`), 'x'), false);
    assert.equal(goBool(qs(''), 'x'), false);
    assert.throws(() => goBool(qs('x=yes'), 'x'), is400(/x: invalid boolean value "yes"/));
  });
});

describe('parseLogQuery', () => {
  const now = Date.parse('2025-01-01T00:01:40Z');

  it('maps kubelet parameters to runtime options', () => {
    assert.deepEqual(parseLogQuery(qs(''), now), { opts: { follow: false, timestamps: false }, previous: false });
    assert.deepEqual(parseLogQuery(qs('follow=true&timestamps=1&tailLines=5&previous=true&limitBytes=10'), now), {
      opts: { follow: true, timestamps: true, tail: 5 },
      previous: true,
      limitBytes: 10,
    });
  });

  it('turns sinceSeconds and sinceTime into Unix seconds', () => {
    assert.equal(parseLogQuery(qs('sinceSeconds=40'), now).opts.since, now / 1000 - 40);
    assert.equal(parseLogQuery(qs('sinceTime=2025-01-01T00:00:00Z'), now).opts.since, Date.parse('2025-01-01T00:00:00Z') / 1000);
    assert.equal(parseLogQuery(qs('sinceTime=2025-01-01T00:00:00.5%2B01:00'), now).opts.since, Date.parse('2024-12-31T23:00:00.5Z') / 1000);
  });

  it('validates as the API server does', () => {
    assert.throws(() => parseLogQuery(qs('tailLines=-1'), now), is400(/tailLines/));
    assert.throws(() => parseLogQuery(qs('tailLines=x'), now), is400(/tailLines: invalid integer/));
    assert.throws(() => parseLogQuery(qs('sinceSeconds=0'), now), is400(/sinceSeconds/));
    assert.throws(() => parseLogQuery(qs('limitBytes=0'), now), is400(/limitBytes/));
    assert.throws(() => parseLogQuery(qs('sinceSeconds=5&sinceTime=2025-01-01T00:00:00Z'), now), is400(/at most one of `sinceTime` or `sinceSeconds`/));
    assert.throws(() => parseLogQuery(qs('sinceTime=yesterday'), now), is400(/sinceTime: invalid RFC3339/));
  });
});

describe('parseExecQuery', () => {
  it('collects the command and the stream flags', () => {
    assert.deepEqual(parseExecQuery(qs('command=sh&command=-c&command=echo+hi&stdin=true&stdout=true&stderr=true')), {
      command: ['sh', '-c', 'echo hi'],
      stdin: true,
      stdout: true,
      stderr: true,
      tty: false,
    });
  });

  it('drops stderr with a tty (merged into stdout)', () => {
    const r = parseExecQuery(qs('command=sh&stdin=1&stdout=1&stderr=1&tty=1'));
    assert.equal(r.tty, true);
    assert.equal(r.stderr, false);
  });

  it('needs a command and at least one stream', () => {
    assert.throws(() => parseExecQuery(qs('stdout=true')), is400(/at least 1 command/));
    assert.throws(() => parseExecQuery(qs('command=ls')), is400(/at least 1 of stdin, stdout, stderr/));
  });
});
