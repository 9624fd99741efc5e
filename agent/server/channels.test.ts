import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decodeClientMessage, encodeFrame, errorStatus, exitStatus, offeredProtocols, selectProtocol, V4_PROTOCOL, V5_PROTOCOL } from './channels.js';

describe('protocol negotiation', () => {
  it('prefers v5, accepts v4, refuses the rest', () => {
    assert.equal(selectProtocol([V4_PROTOCOL, V5_PROTOCOL]), V5_PROTOCOL);
    assert.equal(selectProtocol(['v3.channel.k8s.io', V4_PROTOCOL]), V4_PROTOCOL);
    assert.equal(selectProtocol(['channel.k8s.io', 'base64.channel.k8s.io']), undefined);
    assert.equal(selectProtocol([]), undefined);
  });

  it('splits Sec-WebSocket-Protocol headers', () => {
    assert.deepEqual(offeredProtocols('v5.channel.k8s.io, v4.channel.k8s.io'), [V5_PROTOCOL, V4_PROTOCOL]);
    assert.deepEqual(offeredProtocols(['a', 'b,c']), ['a', 'b', 'c']);
    assert.deepEqual(offeredProtocols(undefined), []);
  });
});

describe('frames', () => {
  it('prefixes the channel byte', () => {
    assert.deepEqual(encodeFrame(1, 'hi'), Buffer.from([1, 0x68, 0x69]));
    assert.deepEqual(encodeFrame(3), Buffer.from([3]));
  });

  it('decodes stdin, resize and the v5 close frame', () => {
    assert.deepEqual(decodeClientMessage(V5_PROTOCOL, Buffer.from([0, 0x61])), { kind: 'stdin', data: Buffer.from('a') });
    assert.deepEqual(decodeClientMessage(V5_PROTOCOL, Buffer.concat([Buffer.from([4]), Buffer.from('{"Width":80,"Height":24}')])), { kind: 'resize', width: 80, height: 24 });
    assert.deepEqual(decodeClientMessage(V5_PROTOCOL, Buffer.from([255, 0])), { kind: 'close', channel: 0 });
  });

  it('ignores what it cannot use, never throws', () => {
    assert.equal(decodeClientMessage(V4_PROTOCOL, Buffer.from([255, 0])).kind, 'ignored');
    assert.equal(decodeClientMessage(V5_PROTOCOL, Buffer.from([255])).kind, 'ignored');
    assert.equal(decodeClientMessage(V5_PROTOCOL, Buffer.concat([Buffer.from([4]), Buffer.from('{"Width":-1}')])).kind, 'ignored');
    assert.equal(decodeClientMessage(V5_PROTOCOL, Buffer.concat([Buffer.from([4]), Buffer.from('not json')])).kind, 'ignored');
    assert.equal(decodeClientMessage(V5_PROTOCOL, Buffer.from([1, 0x61])).kind, 'ignored');
    assert.equal(decodeClientMessage(V5_PROTOCOL, Buffer.alloc(0)).kind, 'ignored');
  });
});

describe('status', () => {
  it('is Success for exit code 0', () => {
    assert.deepEqual(exitStatus(0, ['true']), { metadata: {}, status: 'Success' });
  });

  it('carries a non-zero exit code as the ExitCode cause kubectl reads', () => {
    const s = exitStatus(3, ['sh', '-c', 'exit 3']);
    assert.equal(s.status, 'Failure');
    assert.equal(s.reason, 'NonZeroExitCode');
    assert.deepEqual(s.details, { causes: [{ reason: 'ExitCode', message: '3' }] });
    assert.match(s.message!, /^command terminated with non-zero exit code: .*exit code 3$/);
  });

  it('reports runtime failures as InternalError', () => {
    assert.deepEqual(errorStatus('boom'), { metadata: {}, status: 'Failure', message: 'boom', reason: 'InternalError', code: 500 });
  });
});
