import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { API_SERVER_CLIENT_CN, checkClient } from './auth.js';

describe('checkClient', () => {
  it('lets the API server in', () => {
    assert.equal(checkClient({ presented: true, authorized: true, commonName: API_SERVER_CLIENT_CN }), undefined);
  });

  it('answers 401 without a certificate or with one the cluster CA did not sign', () => {
    assert.equal(checkClient({ presented: false, authorized: false })?.code, 401);
    const e = checkClient({ presented: true, authorized: false, authorizationError: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', commonName: API_SERVER_CLIENT_CN });
    assert.equal(e?.code, 401);
    assert.match(e!.message, /UNABLE_TO_VERIFY_LEAF_SIGNATURE/);
  });

  it('answers 403 to anyone else the CA vouches for', () => {
    const e = checkClient({ presented: true, authorized: true, commonName: 'system:node:n1' });
    assert.equal(e?.code, 403);
    assert.match(e!.message, /user "system:node:n1"/);
  });
});
