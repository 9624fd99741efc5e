/**
 * The nftables rule mode against the real nft and kernel, inside a network
 * namespace made here (never the host's ruleset): a proxy's life is one
 * recreate at start, then partial syncs and periodic in-place resyncs, each a
 * later transaction on the table the first one made. All of them must apply in
 * place: a fallback to rebuilding the table (which drops the ClientIP affinity
 * map) or a failed sync is a bug. nft 1.0.6 (Debian 12) once refused every
 * later rule using a map whose data was typed `th dport`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { execRunner } from '../common/iptables.js';
import type { Logger } from '../common/log.js';
import { servicePorts } from '../agent/proxy/model.js';
import { Nft } from '../agent/proxy/nft.js';
import { NftMode } from '../agent/proxy/nft-mode.js';
import { slice, svc, TOPOLOGY } from '../agent/proxy/fixtures.js';

const run = promisify(execFile);
const isRoot = process.getuid?.() === 0;
const hasNft = isRoot && (await run('nft', ['--version']).then(() => true, () => false));

/** A logger that keeps the warnings (a fake for the log sink only: nft and the kernel are real). */
function recordingLogger(warnings: string[]): Logger {
  const l = {
    warn: (o: { err?: string }, msg: string) => void warnings.push(`${msg}: ${o.err ?? ''}`),
    info: () => undefined,
    debug: () => undefined,
    error: (o: { err?: string }, msg: string) => void warnings.push(`${msg}: ${o.err ?? ''}`),
    child: () => l,
  };
  return l as unknown as Logger;
}

test('nftables: later partial and in-place full syncs apply to the table the first sync made, for TCP, UDP and SCTP', { skip: !hasNft && 'needs root and nft' }, async () => {
  const ns = `skiff-nft-${process.pid}`;
  const warnings: string[] = [];
  await run('ip', ['netns', 'add', ns]);
  try {
    const nft = new Nft(execRunner, ns);
    const mode = new NftMode({ clusterCIDR: TOPOLOGY.clusterCIDR }, nft, recordingLogger(warnings));
    const handle = async (): Promise<string> => /table ip skiff \{ # handle (\d+)/.exec((await run('ip', ['netns', 'exec', ns, 'nft', '-a', 'list', 'table', 'ip', 'skiff'])).stdout)?.[1] ?? '';
    const set = (name: string, spec: object, eps: string[], ports: object[]): void => {
      mode.setService(`default/${name}`, servicePorts(svc(name, spec), [slice(name, eps.map((ip) => ({ ip })), ports)], TOPOLOGY));
    };

    set('web', { clusterIP: '10.96.0.10', type: 'NodePort', ports: [{ port: 80, targetPort: 8080, nodePort: 30080 }] }, ['10.244.0.4', '10.244.0.5', '10.244.0.6'], [{ name: '', port: 8080, protocol: 'TCP' }]);
    assert.equal((await mode.sync(true)).kind, 'full');
    const first = await handle();
    assert.ok(first, 'table made');

    // New endpoint counts mean new lb chains whose rules use the backends maps: a later transaction.
    set('dns', { clusterIP: '10.96.0.53', ports: [{ port: 53, protocol: 'UDP', name: 'dns' }] }, ['10.244.0.7', '10.244.0.8'], [{ name: 'dns', port: 53, protocol: 'UDP' }]);
    set('sig', { clusterIP: '10.96.0.54', type: 'NodePort', ports: [{ port: 5060, protocol: 'SCTP', nodePort: 30060 }] }, ['10.244.0.9'], [{ name: '', port: 5060, protocol: 'SCTP' }]);
    assert.equal((await mode.sync(false)).kind, 'partial');
    // The periodic resync: flushed and refilled in place.
    assert.equal((await mode.sync(true)).kind, 'full');
    set('web', { clusterIP: '10.96.0.10', type: 'NodePort', ports: [{ port: 80, targetPort: 8080, nodePort: 30080 }] }, ['10.244.0.4', '10.244.0.5', '10.244.0.6', '10.244.0.10'], [{ name: '', port: 8080, protocol: 'TCP' }]);
    assert.equal((await mode.sync(false)).kind, 'partial');
    assert.equal((await mode.sync(true)).kind, 'full');

    assert.deepEqual(warnings, [], 'no sync fell back to rebuilding the table');
    assert.equal(await handle(), first, 'the same table throughout');
    const listing = (await run('ip', ['netns', 'exec', ns, 'nft', 'list', 'table', 'ip', 'skiff'])).stdout;
    assert.match(listing, /10\.96\.0\.53 \. udp \. 53 \. 1 : 10\.244\.0\.8 \. 53/, 'UDP backend in place');
    assert.match(listing, /sctp \. 30060 \. 0 : 10\.244\.0\.9 \. 5060/, 'SCTP NodePort backend in place');
    assert.match(listing, /10\.96\.0\.10 \. tcp \. 80 \. 3 : 10\.244\.0\.10 \. 8080/, 'TCP backend added by the last partial');
  } finally {
    await run('ip', ['netns', 'del', ns]).catch(() => undefined);
  }
});
