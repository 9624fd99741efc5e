import { test } from 'node:test';
import assert from 'node:assert/strict';
import { kubeconfig } from '../../controlplane/server.js';
import { LAB_CONTEXT, labKubeconfig } from './kubeconfig.js';
import { credsFromKubeconfig } from './api.js';
import { LAB_API_URL } from './plan.js';
import { table } from './status.js';

const CA = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';

test('labKubeconfig: the server\'s admin kubeconfig pointed at 192.168.56.10:6443, renamed skiff-lab, credentials kept', () => {
  const admin = kubeconfig('https://127.0.0.1:6443', CA, 'secret-token');
  const lab = labKubeconfig(admin);
  const creds = credsFromKubeconfig(lab);
  assert.deepEqual(creds, { server: LAB_API_URL, ca: CA, token: 'secret-token' });
  assert.equal(LAB_API_URL, 'https://192.168.56.10:6443');
  assert.match(lab, new RegExp(`current-context: ${LAB_CONTEXT}\\n`));
  assert.doesNotMatch(lab, /name: skiff\n|name: admin\n/);
  // Idempotent on its own output.
  assert.equal(labKubeconfig(lab), lab);
});

test('labKubeconfig and credsFromKubeconfig refuse a kubeconfig without cluster or user', () => {
  assert.throws(() => labKubeconfig('apiVersion: v1\nkind: Config\nclusters: []\n'), /no cluster or user/);
  assert.throws(() => labKubeconfig(''), /no cluster or user/);
  assert.throws(() => credsFromKubeconfig('apiVersion: v1\nkind: Config\n'), /lacks server/);
});

test('table: left-aligned columns, no trailing spaces', () => {
  assert.equal(table([['A', 'BB', 'C'], ['long', 'x', '']]), 'A     BB  C\nlong  x');
});
