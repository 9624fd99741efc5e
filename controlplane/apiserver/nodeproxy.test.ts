import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { StatusError } from '../../common/errors.js';
import { agentEndpoint, agentPath, dialAgent, podContainer, SERVING_CERT_ANNOTATION, statusFromAgent } from './nodeproxy.js';
import { ensureKubeletClientCert, ensurePki } from './pki.js';

const FP = 'ab'.repeat(32);
const node = (over: { annotations?: Record<string, string>; addresses?: unknown[]; port?: unknown } = {}): Record<string, any> => ({
  metadata: { name: 'n1', annotations: over.annotations ?? { [SERVING_CERT_ANNOTATION]: FP } },
  status: { addresses: over.addresses ?? [{ type: 'Hostname', address: 'n1' }, { type: 'InternalIP', address: '10.0.0.5' }], daemonEndpoints: { kubeletEndpoint: { Port: 'port' in over ? over.port : 10250 } } },
});
const pod = { metadata: { name: 'web', namespace: 'default' }, spec: { containers: [{ name: 'a' }, { name: 'b' }], initContainers: [{ name: 'init' }] } };
const status = (code: number, re: RegExp) => (e: unknown): boolean => e instanceof StatusError && e.code === code && re.test(e.message);

describe('agentEndpoint', () => {
  it('takes the InternalIP, the kubelet port and the pinned fingerprint', () => {
    assert.deepEqual(agentEndpoint(node()), { node: 'n1', host: '10.0.0.5', port: 10250, fingerprint: FP });
    const colons = FP.toUpperCase().match(/../g)!.join(':');
    assert.equal(agentEndpoint(node({ annotations: { [SERVING_CERT_ANNOTATION]: colons } })).fingerprint, FP);
  });

  it('is 503 when the node has not published what a safe connection needs', () => {
    assert.throws(() => agentEndpoint(node({ annotations: {} })), status(503, /node "n1" has not published its serving certificate/));
    assert.throws(() => agentEndpoint(node({ annotations: { [SERVING_CERT_ANNOTATION]: 'short' } })), status(503, /serving certificate/));
    assert.throws(() => agentEndpoint(node({ addresses: [{ type: 'Hostname', address: 'n1' }] })), status(503, /no InternalIP/));
    assert.throws(() => agentEndpoint(node({ port: undefined })), status(503, /kubeletEndpoint\.Port/));
  });
});

describe('podContainer', () => {
  it('accepts any container of the pod by name, init containers included', () => {
    assert.equal(podContainer(pod, 'b'), 'b');
    assert.equal(podContainer(pod, 'init'), 'init');
  });

  it('defaults to the only container, and otherwise says which to choose', () => {
    assert.equal(podContainer({ metadata: { name: 'x' }, spec: { containers: [{ name: 'only' }] } }, undefined), 'only');
    assert.throws(() => podContainer(pod, null), status(400, /^a container name must be specified for pod web, choose one of: \[a b\] or one of the init containers: \[init\]$/));
    assert.throws(() => podContainer(pod, 'nope'), status(400, /^container nope is not valid for pod web$/));
  });
});

describe('agentPath', () => {
  it('keeps only the parameters the agent takes, repeated commands in order', () => {
    const q = new URLSearchParams('container=a&command=sh&command=-c&command=echo hi&stdin=true&tty=false&pretty=1');
    assert.equal(agentPath('exec', pod, 'a', q), '/exec/default/web/a?command=sh&command=-c&command=echo+hi&stdin=true&tty=false');
    assert.equal(agentPath('containerLogs', pod, 'a', new URLSearchParams('follow=true&tailLines=3&container=a')), '/containerLogs/default/web/a?follow=true&tailLines=3');
    assert.equal(agentPath('containerLogs', pod, 'a', new URLSearchParams()), '/containerLogs/default/web/a');
  });
});

describe('statusFromAgent', () => {
  it('keeps the agent\'s Status, or wraps its text', () => {
    const s = statusFromAgent(400, JSON.stringify({ kind: 'Status', status: 'Failure', message: 'previous terminated container "c" in pod "p" not found', reason: 'BadRequest', code: 400 }), 'n1');
    assert.equal(s.code, 400);
    assert.equal(s.reason, 'BadRequest');
    assert.match(s.message, /previous terminated container/);
    const t = statusFromAgent(404, 'pod not found\n', 'n1');
    assert.equal(t.reason, 'NotFound');
    assert.equal(t.message, 'pod not found');
    assert.match(statusFromAgent(500, '', 'n1').message, /the agent on node "n1" answered 500/);
  });
});

describe('dialAgent', () => {
  it('connects only when the certificate matches the pin, presenting the client certificate', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'skiff-nodeproxy-'));
    const pki = await ensurePki(dir, []);
    const client = await ensureKubeletClientCert(pki);
    assert.equal(new X509Certificate(client.cert).subject, 'CN=skiff-apiserver-kubelet-client');
    assert.ok(new X509Certificate(client.cert).verify(new X509Certificate(pki.caCert).publicKey));
    const again = await ensureKubeletClientCert(pki);
    assert.equal(again.cert, client.cert, 'idempotent');

    let presented = '';
    const srv = createServer({ key: pki.servingKey, cert: pki.servingCert, ca: pki.caCert, requestCert: true, rejectUnauthorized: true }, (s) => {
      presented = String(s.getPeerCertificate().subject.CN);
      s.end();
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    try {
      const port = (srv.address() as AddressInfo).port;
      const good = new X509Certificate(pki.servingCert).fingerprint256;
      const ep = { node: 'n1', host: '127.0.0.1', port, fingerprint: good.replace(/:/g, '').toLowerCase() };
      const sock = await dialAgent(ep, client.cert, client.key, 5_000);
      await new Promise((r) => sock.on('close', r));
      assert.equal(presented, 'skiff-apiserver-kubelet-client');
      await assert.rejects(dialAgent({ ...ep, fingerprint: FP }, client.cert, client.key, 5_000), status(502, /does not match its published skiff\.io\/serving-cert-sha256/));
    } finally {
      await new Promise((r) => srv.close(r));
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
