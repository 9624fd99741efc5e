import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { agentSans, ensureServingCert, normalizeFingerprint } from './tls.js';

describe('normalizeFingerprint', () => {
  it('accepts the usual spellings and rejects the rest', () => {
    const hex = 'ab'.repeat(32);
    assert.equal(normalizeFingerprint(hex.toUpperCase().match(/../g)!.join(':')), hex);
    assert.equal(normalizeFingerprint(`sha256:${hex}`), hex);
    assert.equal(normalizeFingerprint('ab'.repeat(20)), undefined);
    assert.equal(normalizeFingerprint(undefined), undefined);
  });
});

describe('ensureServingCert', () => {
  it('makes a self-signed serving certificate once, and keeps it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'skiff-agent-tls-'));
    try {
      const a = await ensureServingCert(dir, ['10.0.0.5', 'node-a']);
      assert.equal(a.certPath, join(dir, 'pki', 'kubelet.crt'));
      const x = new X509Certificate(a.cert);
      assert.equal(x.issuer, x.subject, 'self-signed');
      assert.match(x.subjectAltName ?? '', /IP Address:10\.0\.0\.5/);
      assert.match(x.subjectAltName ?? '', /DNS:node-a/);
      assert.ok(x.checkPrivateKey((await import('node:crypto')).createPrivateKey(a.key)));
      // The fingerprint is openssl's SHA-256 of the DER certificate.
      const viaOpenssl = execFileSync('openssl', ['x509', '-in', a.certPath, '-noout', '-fingerprint', '-sha256'], { encoding: 'utf8' });
      assert.equal(normalizeFingerprint(viaOpenssl.split('=')[1]), a.fingerprint);
      const b = await ensureServingCert(dir, ['10.0.0.6']);
      assert.equal(b.fingerprint, a.fingerprint, 'kept across restarts');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('lists loopback and localhost among the SANs', () => {
    const sans = agentSans(['192.168.56.11', '0.0.0.0']);
    assert.ok(sans.includes('IP:127.0.0.1'));
    assert.ok(sans.includes('DNS:localhost'));
    assert.ok(sans.includes('IP:192.168.56.11'));
    assert.ok(!sans.some((s) => s.includes('0.0.0.0')));
  });
});
