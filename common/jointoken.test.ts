import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { caHash, formatJoinToken, parseJoinToken } from './jointoken.js';

const CA = '-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n';

describe('join tokens', () => {
  it('K10<sha256 of the CA bytes>::<secret>, and back', () => {
    const t = formatJoinToken(CA, 'K10deadbeef');
    assert.equal(t, `K10${createHash('sha256').update(Buffer.from(CA)).digest('hex')}::K10deadbeef`);
    assert.deepEqual(parseJoinToken(`${t}\n`), { caHash: caHash(CA), secret: 'K10deadbeef' });
  });
  it('a token without "::" is a bare secret', () => {
    assert.deepEqual(parseJoinToken(' K10abc '), { secret: 'K10abc' });
  });
  it('refuses malformed and truncated tokens, and secrets that would not round-trip', () => {
    assert.throws(() => parseJoinToken(''), /empty/);
    assert.throws(() => parseJoinToken('K10abc::secret'), /malformed join token/);
    assert.throws(() => parseJoinToken(`K10${'a'.repeat(64)}::`), /malformed/);
    assert.throws(() => parseJoinToken(`K10${'A'.repeat(64)}::s`), /malformed/);
    assert.throws(() => parseJoinToken(`K10${'a'.repeat(64)}::s::t`), /malformed/);
    assert.throws(() => formatJoinToken(CA, 'a::b'), /without "::"/);
    assert.throws(() => formatJoinToken(CA, ''), /non-empty/);
  });
});
