/**
 * `skiff up` / `skiff down` on one host: the server runs detached, its PID in
 * /run/skiff, its log in /var/log/skiff. Readiness is polled on /readyz with a
 * deadline; `down` signals only the PIDs it recorded and waits for them to exit.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'node:https';
import { DEFAULTS } from '../controlplane/server.js';

const RUN_DIR = process.env.SKIFF_RUN_DIR ?? '/run/skiff';
const LOG_DIR = process.env.SKIFF_LOG_DIR ?? '/var/log/skiff';
const MAIN = resolve(dirname(fileURLToPath(import.meta.url)), 'main.js');

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function readPid(name: string): number | undefined {
  const f = join(RUN_DIR, `${name}.pid`);
  if (!existsSync(f)) return undefined;
  const pid = Number(readFileSync(f, 'utf8').trim());
  return Number.isInteger(pid) && pid > 0 && alive(pid) ? pid : undefined;
}

function readyz(port: number): Promise<boolean> {
  return new Promise((resolveReady) => {
    const req = request({ host: '127.0.0.1', port, path: '/readyz', rejectUnauthorized: false, timeout: 1000 }, (res) => {
      res.resume();
      resolveReady(res.statusCode === 200);
    });
    req.on('error', () => resolveReady(false));
    req.on('timeout', () => {
      req.destroy();
      resolveReady(false);
    });
    req.end();
  });
}

async function waitFor(cond: () => Promise<boolean>, deadlineMs: number, pid: number): Promise<boolean> {
  const end = Date.now() + deadlineMs;
  while (Date.now() < end) {
    if (await cond()) return true;
    if (!alive(pid)) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

export async function runUp(o: { dataDir: string; port: number }): Promise<number> {
  mkdirSync(RUN_DIR, { recursive: true });
  mkdirSync(LOG_DIR, { recursive: true });
  const running = readPid('server');
  if (running) {
    process.stdout.write(`skiff: server already running (pid ${running})\n`);
    return 0;
  }
  const logFile = join(LOG_DIR, 'server.log');
  const out = openSync(logFile, 'a');
  const child = spawn(process.execPath, [MAIN, 'server', '--data-dir', o.dataDir, '--port', String(o.port), '--write-kubeconfig', DEFAULTS.kubeconfig], {
    detached: true,
    stdio: ['ignore', out, out],
  });
  child.unref();
  writeFileSync(join(RUN_DIR, 'server.pid'), `${child.pid}\n`);
  process.stdout.write(`skiff: server starting (pid ${child.pid}, log ${logFile})\n`);
  if (!(await waitFor(() => readyz(o.port), 60_000, child.pid!))) {
    process.stderr.write(`skiff: server did not become ready; see ${logFile}\n`);
    return 1;
  }
  const kube = join(homedir(), '.kube', 'config');
  if (!existsSync(kube)) {
    mkdirSync(dirname(kube), { recursive: true });
    copyFileSync(join(o.dataDir, 'admin.kubeconfig'), kube);
    process.stdout.write(`skiff: wrote ${kube}\n`);
  }
  process.stdout.write(`skiff: cluster is up: kubectl --kubeconfig ${DEFAULTS.kubeconfig} get namespaces\n`);
  return 0;
}

export async function runDown(): Promise<number> {
  const pid = readPid('server');
  if (!pid) {
    process.stdout.write('skiff: nothing is running\n');
    rmSync(join(RUN_DIR, 'server.pid'), { force: true });
    return 0;
  }
  process.kill(pid, 'SIGTERM');
  const end = Date.now() + 30_000;
  while (alive(pid) && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
  if (alive(pid)) {
    process.stderr.write(`skiff: server (pid ${pid}) did not stop within 30 s; killing it\n`);
    process.kill(pid, 'SIGKILL');
  }
  rmSync(join(RUN_DIR, 'server.pid'), { force: true });
  process.stdout.write(`skiff: server stopped (pid ${pid})\n`);
  return 0;
}

export async function runKubeconfig(dataDir: string): Promise<number> {
  const f = join(dataDir, 'admin.kubeconfig');
  if (!existsSync(f)) {
    process.stderr.write(`skiff kubeconfig: no ${f}; start the server first (skiff up)\n`);
    return 1;
  }
  process.stdout.write(readFileSync(f, 'utf8'));
  return 0;
}
