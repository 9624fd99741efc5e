import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { formatJoinToken } from '../common/jointoken.js';
import { resolveJoin } from './bootstrap.js';

const CA = '-----BEGIN CERTIFICATE-----\nMIIBreal\n-----END CERTIFICATE-----\n';
const OTHER = '-----BEGIN CERTIFICATE-----\nMIIBother\n-----END CERTIFICATE-----\n';
const SERVER = 'https://192.168.56.10:6443';
const token = formatJoinToken(CA, 'K10secret');
const never = async (): Promise<Buffer> => assert.fail('must not fetch');

describe('resolveJoin', () => {
  it('fetches the CA for a full token and sends only the secret', async () => {
    let asked = '';
    const c = await resolveJoin({ server: SERVER, token }, { fetch: async (s) => ((asked = s), Buffer.from(CA)) });
    assert.equal(asked, SERVER);
    assert.deepEqual(c, { server: SERVER, ca: CA, token: 'K10secret' });
  });

  it('refuses a served CA that does not match the token, without retrying', async () => {
    let calls = 0;
    await assert.rejects(resolveJoin({ server: SERVER, token }, { fetch: async () => (calls++, Buffer.from(OTHER)) }), /does not match the join token.*refusing to trust it/);
    assert.equal(calls, 1);
  });

  it('retries an unreachable server until its deadline', async () => {
    let calls = 0;
    const c = await resolveJoin({ server: SERVER, token }, {
      fetch: async () => {
        if (++calls < 3) throw new Error('ECONNREFUSED');
        return Buffer.from(CA);
      },
    });
    assert.equal(calls, 3);
    assert.equal(c.token, 'K10secret');
    await assert.rejects(resolveJoin({ server: SERVER, token }, { deadlineMs: 0, fetch: async () => { throw new Error('ECONNREFUSED'); } }), /cannot fetch the cluster CA from https:\/\/192\.168\.56\.10:6443\/cacerts: ECONNREFUSED/);
  });

  it('checks a given CA against the token instead of fetching', async () => {
    assert.deepEqual(await resolveJoin({ server: SERVER, token, ca: CA }, { fetch: never }), { server: SERVER, ca: CA, token: 'K10secret' });
    await assert.rejects(resolveJoin({ server: SERVER, token, ca: OTHER }, { fetch: never }), /is not the one the join token names/);
  });

  it('a bare secret needs the CA given, and is sent as it is', async () => {
    assert.deepEqual(await resolveJoin({ server: SERVER, token: 'K10bare', ca: CA }, { fetch: never }), { server: SERVER, ca: CA, token: 'K10bare' });
    await assert.rejects(resolveJoin({ server: SERVER, token: 'K10bare' }, { fetch: never }), /CA is required with a bare token/);
  });
});
