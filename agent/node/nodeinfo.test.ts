import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { NetworkInterfaceInfo } from 'node:os';
import { defaultRouteInterface, goArch, nodeAddresses, nodeInfo, nodeLabels, parseOsRelease, pickNodeIP, readSystemInfo } from './nodeinfo.js';

const ROUTES = `Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
eth1\t00000000\t0138A8C0\t0003\t0\t0\t200\t00000000\t0\t0\t0
eth0\t00000000\t010200C0\t0003\t0\t0\t100\t00000000\t0\t0\t0
eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0
`;

const addr = (address: string, internal = false, family: 'IPv4' | 'IPv6' = 'IPv4'): NetworkInterfaceInfo =>
  ({ address, family, internal, netmask: '255.255.255.0', mac: '00:00:00:00:00:00', cidr: `${address}/24` }) as NetworkInterfaceInfo;

describe('node identity', () => {
  it('maps Node.js architectures to Go names', () => {
    assert.equal(goArch('x64'), 'amd64');
    assert.equal(goArch('arm64'), 'arm64');
    assert.equal(goArch('ia32'), '386');
  });

  it('labels the node with hostname, os and arch (stable and beta), and no role', () => {
    assert.deepEqual(nodeLabels('n1', 'amd64'), {
      'kubernetes.io/hostname': 'n1',
      'kubernetes.io/os': 'linux',
      'kubernetes.io/arch': 'amd64',
      'beta.kubernetes.io/os': 'linux',
      'beta.kubernetes.io/arch': 'amd64',
    });
  });

  it('reads PRETTY_NAME from os-release', () => {
    assert.equal(parseOsRelease('NAME="Debian GNU/Linux"\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n'), 'Debian GNU/Linux 12 (bookworm)');
    assert.equal(parseOsRelease('ID=alpine\n'), 'Linux');
  });

  it('finds the default route with the lowest metric', () => {
    assert.equal(defaultRouteInterface(ROUTES), 'eth0');
    assert.equal(defaultRouteInterface(ROUTES.split('\n').filter((l) => !l.startsWith('eth0\t0000')).join('\n')), 'eth1');
    assert.equal(defaultRouteInterface('Iface\tDestination\n'), undefined);
  });

  it('picks the default interface address, else the first non-bridge address, else loopback', () => {
    const ifaces = { lo: [addr('127.0.0.1', true)], docker0: [addr('172.17.0.1')], eth0: [addr('fe80::1', false, 'IPv6'), addr('192.168.56.11')], eth1: [addr('10.0.0.5')] };
    assert.equal(pickNodeIP(ifaces, 'eth1'), '10.0.0.5');
    assert.equal(pickNodeIP(ifaces, undefined), '192.168.56.11');
    assert.equal(pickNodeIP({ lo: [addr('127.0.0.1', true)], docker0: [addr('172.17.0.1')] }), '127.0.0.1');
  });

  it('builds nodeInfo and addresses from the host', async () => {
    const sys = await readSystemInfo();
    assert.match(sys.bootID, /^[0-9a-f-]{36}$/);
    assert.ok(sys.kernelVersion.length > 0);
    const info = nodeInfo(sys, 'docker://20.10.24');
    assert.equal(info.containerRuntimeVersion, 'docker://20.10.24');
    assert.equal(info.kubeletVersion, 'v1.32.0-skiff');
    assert.equal(info.operatingSystem, 'linux');
    assert.equal(info.architecture, goArch());
    assert.deepEqual(nodeAddresses('10.0.0.5', 'n1'), [
      { type: 'InternalIP', address: '10.0.0.5' },
      { type: 'Hostname', address: 'n1' },
    ]);
  });
});
