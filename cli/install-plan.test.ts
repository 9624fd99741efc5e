import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { agentArgs, envFile, flagValue, installPaths, InstallUsageError, mergeDaemonJson, parseInstallFlags, serverArgs, unitsFor } from './install-plan.js';

const parse = (v: Record<string, string | boolean>) => parseInstallFlags(v);
const refuses = (v: Record<string, string | boolean>, re: RegExp) => assert.throws(() => parse(v), (e: Error) => e instanceof InstallUsageError && re.test(e.message) && !e.message.includes('\n'));

describe('parseInstallFlags', () => {
  it('a server with defaults, and an agent with what it needs', () => {
    const s = parse({ role: 'server', 'node-ip': '192.168.56.10' });
    assert.equal(s.role, 'server');
    assert.equal(s.prefix, '/opt/skiff');
    assert.equal(s.root, '/');
    assert.equal(s.withAgent, true);
    const a = parse({ role: 'agent', server: 'https://192.168.56.10:6443/', 'token-file': 'token', 'node-name': 'worker-1' });
    assert.equal(a.server, 'https://192.168.56.10:6443');
    assert.equal(a.tokenFile, 'token');
  });

  it('refuses bad usage with one line saying what is wrong', () => {
    refuses({}, /--role server\|agent is required/);
    refuses({ role: 'worker' }, /--role must be server or agent, got "worker"/);
    refuses({ role: 'server', token: 'x' }, /--token is for --role agent/);
    refuses({ role: 'agent', server: 'https://a:6443', token: 't', 'advertise-address': '1.2.3.4' }, /--advertise-address is for --role server/);
    refuses({ role: 'agent', token: 't' }, /--server https:\/\/HOST:PORT is required/);
    refuses({ role: 'agent', server: 'http://a:6443', token: 't' }, /must be https:\/\/HOST\[:PORT\]/);
    refuses({ role: 'agent', server: 'https://a:6443/api', token: 't' }, /must be https:\/\/HOST\[:PORT\]/);
    refuses({ role: 'agent', server: 'not a url', token: 't' }, /must be a URL/);
    refuses({ role: 'agent', server: 'https://a:6443' }, /exactly one of --token or --token-file/);
    refuses({ role: 'agent', server: 'https://a:6443', token: 't', 'token-file': 'f' }, /exactly one of --token or --token-file/);
    refuses({ role: 'server', 'node-ip': '192.168.56.300' }, /--node-ip must be an IPv4 address/);
    refuses({ role: 'server', 'node-name': 'Worker_1' }, /--node-name must be a lowercase DNS subdomain/);
    refuses({ role: 'server', prefix: 'opt/skiff' }, /--prefix must be an absolute path/);
    refuses({ role: 'server', prefix: '/opt/../usr' }, /--prefix must be an absolute path/);
    refuses({ role: 'server', prefix: '/usr' }, /--prefix \/usr is a system directory/);
    refuses({ role: 'server', prefix: '/' }, /system directory/);
    refuses({ role: 'server', 'server-args': '--flag "quoted value"' }, /--server-args: ""quoted" has characters/);
    refuses({ role: 'server', 'agent-args': '--x $(reboot)' }, /--agent-args: "\$\(reboot\)"/);
  });
});

describe('service arguments and env files', () => {
  it('a server node: the server advertises the node IP, its agent joins over loopback with the server\'s own files', () => {
    const o = parse({ role: 'server', 'node-ip': '192.168.56.10', 'node-name': 'server', 'server-args': '--port 7443 --node-monitor-grace-period 20s' });
    assert.deepEqual(serverArgs(o), ['--data-dir', '/var/lib/skiff/server', '--advertise-address', '192.168.56.10', '--write-kubeconfig', '/etc/skiff/admin.kubeconfig', '--port', '7443', '--node-monitor-grace-period', '20s']);
    assert.deepEqual(agentArgs(o, false), ['--server', 'https://127.0.0.1:7443', '--token-file', '/var/lib/skiff/server/node-token', '--ca-file', '/var/lib/skiff/server/pki/ca.crt', '--node-ip', '192.168.56.10', '--node-name', 'server']);
    assert.deepEqual(unitsFor(o), ['skiff-server.service', 'skiff-agent.service']);
    assert.deepEqual(unitsFor(parse({ role: 'server', 'no-agent': true })), ['skiff-server.service']);
  });

  it('a worker: the token (and CA when given) from /etc/skiff', () => {
    const o = parse({ role: 'agent', server: 'https://192.168.56.10:6443', token: 'K10abc', 'node-ip': '192.168.56.11', 'agent-args': '--reserved-memory 128Mi' });
    assert.deepEqual(agentArgs(o, false), ['--server', 'https://192.168.56.10:6443', '--token-file', '/etc/skiff/node-token', '--node-ip', '192.168.56.11', '--reserved-memory', '128Mi']);
    assert.deepEqual(agentArgs(o, true).slice(0, 6), ['--server', 'https://192.168.56.10:6443', '--token-file', '/etc/skiff/node-token', '--ca-file', '/etc/skiff/ca.crt']);
    assert.deepEqual(unitsFor(o), ['skiff-agent.service']);
  });

  it('env files hold one quoted variable that systemd splits into the words', () => {
    const text = envFile('skiff-agent.service', 'SKIFF_AGENT_ARGS', ['--server', 'https://a:6443', '--node-ip', '10.0.0.2']);
    assert.match(text, /^SKIFF_AGENT_ARGS="--server https:\/\/a:6443 --node-ip 10\.0\.0\.2"$/m);
    assert.equal(text.split('\n').filter((l) => l && !l.startsWith('#')).length, 1);
  });

  it('flagValue reads both spellings, the last one winning', () => {
    assert.equal(flagValue(['--port', '1', '--port=2'], 'port'), '2');
    assert.equal(flagValue(['--data-dir=/x'], 'data-dir'), '/x');
    assert.equal(flagValue(['--port'], 'port'), undefined);
  });

  it('paths go under the alternate root', () => {
    const p = installPaths({ root: '/tmp/img', prefix: '/opt/skiff' });
    assert.equal(p.prefix, '/tmp/img/opt/skiff');
    assert.equal(p.agentEnv, '/tmp/img/etc/skiff/agent.env');
    assert.equal(installPaths({ root: '/', prefix: '/opt/skiff' }).bin, '/usr/local/bin/skiff');
  });
});

describe('mergeDaemonJson', () => {
  it('adds cgroupfs, keeps other keys and options, replaces another driver, and is idempotent', () => {
    const fresh = mergeDaemonJson(undefined);
    assert.equal(fresh.changed, true);
    assert.deepEqual(JSON.parse(fresh.text), { 'exec-opts': ['native.cgroupdriver=cgroupfs'] });
    const mixed = mergeDaemonJson('{"log-driver":"journald","exec-opts":["native.cgroupdriver=systemd","native.umask=normal"]}');
    assert.deepEqual(JSON.parse(mixed.text), { 'log-driver': 'journald', 'exec-opts': ['native.umask=normal', 'native.cgroupdriver=cgroupfs'] });
    const again = mergeDaemonJson(mixed.text);
    assert.deepEqual(again, { text: mixed.text, changed: false });
  });
  it('refuses to overwrite a file it cannot read as a JSON object', () => {
    assert.throws(() => mergeDaemonJson('{"exec-opts": ['), SyntaxError);
    assert.throws(() => mergeDaemonJson('[1]'), /not a JSON object/);
  });
});
