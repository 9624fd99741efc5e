/**
 * The kubelet's side of CNI, as libcni does it: read the network list from
 * the conf dir, run each plugin with CNI_* in the environment and the config
 * (plus prevResult) on stdin, and keep the result of each ADD in a cache file
 * so DEL gets its prevResult and a restarted agent knows its pods' IPs.
 *
 * The agent writes its own conflist (`writeConflist`) once the node has a podCIDR.
 */
import { execFile } from 'node:child_process';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { POD_BRIDGE } from '../host/network.js';

export const CNI_CONF_DIR = '/etc/cni/net.d';
export const CNI_CONF_FILE = '10-skiff.conflist';
export const CNI_BIN_DIRS = ['/opt/cni/bin'];

export interface NetworkList {
  cniVersion: string;
  name: string;
  plugins: Record<string, unknown>[];
}

export interface CniResult {
  cniVersion: string;
  interfaces?: { name: string; mac?: string; sandbox?: string }[];
  ips?: { address: string; gateway?: string; interface?: number }[];
  routes?: unknown[];
  dns?: unknown;
}

/** A plugin's error JSON ({code, msg, details}) or a failure to run it. */
export class CniError extends Error {
  constructor(
    readonly code: number,
    msg: string,
    readonly details?: string,
  ) {
    super(details ? `${msg}: ${details}` : msg);
    this.name = 'CniError';
  }
}

/** The config the agent writes for its node: the skiff-bridge plugin on the node's podCIDR. */
export function skiffConflist(podCIDR: string, clusterCIDR: string, iptables?: string): NetworkList {
  return {
    cniVersion: '1.0.0',
    name: 'skiff',
    plugins: [
      {
        type: 'skiff-bridge',
        bridge: POD_BRIDGE,
        hairpinMode: true,
        ipMasq: true,
        clusterCIDR,
        // The backend the host uses (common/iptables.ts detects it): never mix two.
        ...(iptables ? { iptables } : {}),
        ipam: { type: 'host-local', ranges: [[{ subnet: podCIDR }]], dataDir: '/var/lib/cni/networks' },
      },
    ],
  };
}

/** Writes the conflist atomically (a runtime may read the dir at any moment); true when it changed. */
export async function writeConflist(list: NetworkList, dir = CNI_CONF_DIR): Promise<boolean> {
  const text = `${JSON.stringify(list, null, 2)}\n`;
  const file = join(dir, CNI_CONF_FILE);
  const old = await readFile(file, 'utf8').catch(() => undefined);
  if (old === text) return false;
  await mkdir(dir, { recursive: true });
  await writeFile(`${file}.tmp`, text, { mode: 0o644 });
  await rename(`${file}.tmp`, file);
  return true;
}

export async function readConflist(dir = CNI_CONF_DIR): Promise<NetworkList | undefined> {
  try {
    return JSON.parse(await readFile(join(dir, CNI_CONF_FILE), 'utf8')) as NetworkList;
  } catch {
    return undefined;
  }
}

export interface Attachment {
  containerId: string;
  netns: string;
  ifName: string;
  /** CNI_ARGS, e.g. K8S_POD_NAMESPACE=..;K8S_POD_NAME=.. */
  args?: Record<string, string>;
}

function runPlugin(bin: string, env: NodeJS.ProcessEnv, stdin: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(bin, [], { env, timeout: 60_000, maxBuffer: 1 << 20 }, (err, stdout) => {
      if (!err) return resolve(stdout);
      let parsed: { code?: number; msg?: string; details?: string } = {};
      try {
        parsed = JSON.parse(stdout) as typeof parsed;
      } catch {
        /* not JSON: report the process failure */
      }
      reject(new CniError(parsed.code ?? 999, parsed.msg ?? `${bin} failed: ${err.message.split('\n')[0]}`, parsed.details));
    });
    child.stdin?.end(stdin);
  });
}

export class CniNetwork {
  constructor(
    private readonly cacheDir: string,
    private readonly confDir = CNI_CONF_DIR,
    private readonly binDirs = CNI_BIN_DIRS,
  ) {}

  private env(command: string, a: Attachment): NodeJS.ProcessEnv {
    return {
      PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
      CNI_COMMAND: command,
      CNI_CONTAINERID: a.containerId,
      CNI_NETNS: a.netns,
      CNI_IFNAME: a.ifName,
      CNI_PATH: this.binDirs.join(':'),
      CNI_ARGS: Object.entries(a.args ?? {})
        .map(([k, v]) => `${k}=${v}`)
        .join(';'),
    };
  }

  private cacheFile(containerId: string, ifName: string): string {
    return join(this.cacheDir, `skiff-${containerId}-${ifName}.json`);
  }

  private bin(type: string): string {
    if (!/^[a-zA-Z0-9_.-]+$/.test(type)) throw new CniError(7, `invalid plugin type ${JSON.stringify(type)}`);
    return join(this.binDirs[0], type);
  }

  /** Runs ADD through the chain; on failure runs DEL of what ran, so nothing leaks. */
  async add(a: Attachment): Promise<CniResult> {
    const list = await readConflist(this.confDir);
    if (!list) throw new CniError(6, `no network config in ${this.confDir}: the node has no podCIDR yet`);
    let prev: CniResult | undefined;
    try {
      for (const p of list.plugins) {
        const conf = { ...p, cniVersion: list.cniVersion, name: list.name, ...(prev ? { prevResult: prev } : {}) };
        prev = JSON.parse(await runPlugin(this.bin(String(p.type)), this.env('ADD', a), JSON.stringify(conf))) as CniResult;
      }
    } catch (e) {
      await this.delWith(list, a, prev).catch(() => undefined);
      throw e;
    }
    const result = prev ?? { cniVersion: list.cniVersion };
    await mkdir(this.cacheDir, { recursive: true });
    const file = this.cacheFile(a.containerId, a.ifName);
    await writeFile(`${file}.tmp`, JSON.stringify({ config: list, result, attachment: a }));
    await rename(`${file}.tmp`, file);
    return result;
  }

  /** The cached ADD result of an attachment, if any (a restarted agent reads IPs from it). */
  async cached(containerId: string, ifName = 'eth0'): Promise<CniResult | undefined> {
    try {
      return (JSON.parse(await readFile(this.cacheFile(containerId, ifName), 'utf8')) as { result: CniResult }).result;
    } catch {
      return undefined;
    }
  }

  /** DEL in reverse order with the cached config and result; idempotent. */
  async del(a: Attachment): Promise<void> {
    let list: NetworkList | undefined;
    let prev: CniResult | undefined;
    try {
      const c = JSON.parse(await readFile(this.cacheFile(a.containerId, a.ifName), 'utf8')) as { config: NetworkList; result: CniResult };
      list = c.config;
      prev = c.result;
    } catch {
      list = await readConflist(this.confDir);
    }
    if (list) await this.delWith(list, a, prev);
    await rm(this.cacheFile(a.containerId, a.ifName), { force: true });
  }

  private async delWith(list: NetworkList, a: Attachment, prev: CniResult | undefined): Promise<void> {
    for (const p of [...list.plugins].reverse()) {
      const conf = { ...p, cniVersion: list.cniVersion, name: list.name, ...(prev ? { prevResult: prev } : {}) };
      await runPlugin(this.bin(String(p.type)), this.env('DEL', a), JSON.stringify(conf));
    }
  }
}

/** The first IPv4 address of a result, without its prefix length. */
export function podIPOf(r: CniResult | undefined): string | undefined {
  const a = r?.ips?.find((i) => !i.address.includes(':'))?.address ?? r?.ips?.[0]?.address;
  return a?.split('/')[0];
}
