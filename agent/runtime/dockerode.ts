/**
 * dockerode, loaded without the transports Skiff never uses.
 *
 * dockerode 5 requires at load time @grpc/grpc-js and @grpc/proto-loader (for
 * BuildKit sessions, `docker.buildImage` with a session) and, through
 * docker-modem, ssh2 (for `ssh://` hosts). Skiff talks to the engine over its
 * unix socket and never builds, yet those three cost the agent ~4 MB of heap and
 * a few MB of resident code and native addons (measured: heap 12.3 -> 8.2 MB
 * after loading the agent). So, before dockerode is required, each of them is
 * entered in Node's require cache (public API: `require.cache`) as a stand-in
 * that requires the real module the first time anything of it is used:
 * `require('ssh2').Client` is read when docker-modem loads, so the stand-in
 * hands out a constructor that loads ssh2 when called; every other property
 * loads the real module on access. Nothing changes for a caller that does use
 * them (an ssh:// host, a BuildKit build): they load then, once.
 *
 * Everything in Skiff constructs its Docker client here.
 */
import Module, { createRequire } from 'node:module';
import { dirname } from 'node:path';
import type DockerodeT from 'dockerode';

const require = createRequire(import.meta.url);

/** The modules deferred, and the package whose code requires each. */
export const DEFERRED: readonly (readonly [id: string, requiredFrom: string])[] = [
  ['@grpc/grpc-js', 'dockerode'],
  ['@grpc/proto-loader', 'dockerode'],
  ['ssh2', 'docker-modem'],
];

/** Exports read while the requiring module loads; each is handed out as a lazy constructor. */
const CONSTRUCTORS_READ_AT_LOAD = new Set<PropertyKey>(['Client']);

function resolveFrom(id: string, pkg: string): string {
  return require.resolve(id, { paths: [dirname(require.resolve(pkg))] });
}

const standIns = new WeakSet<NodeJS.Module>();

function defer(path: string): void {
  if (require.cache[path]) return;
  let real: Record<PropertyKey, unknown> | undefined;
  const load = (): Record<PropertyKey, unknown> => {
    if (!real) {
      delete require.cache[path];
      real = require(path) as Record<PropertyKey, unknown>;
    }
    return real;
  };
  const stand = new Module(path);
  stand.filename = path;
  stand.loaded = true;
  stand.exports = new Proxy(
    {},
    {
      get(_t, key) {
        if (real || !CONSTRUCTORS_READ_AT_LOAD.has(key)) return load()[key];
        return function Deferred(...args: unknown[]): unknown {
          const C = load()[key] as new (...a: unknown[]) => unknown;
          return new C(...args);
        };
      },
      has: (_t, key) => key in load(),
      ownKeys: () => Reflect.ownKeys(load()),
      getOwnPropertyDescriptor: (_t, key) => {
        const d = Object.getOwnPropertyDescriptor(load(), key);
        return d && { ...d, configurable: true };
      },
    },
  );
  standIns.add(stand);
  require.cache[path] = stand;
}

let ctor: typeof DockerodeT | undefined;

/** The dockerode constructor, with its unused transports deferred. */
export function dockerode(): typeof DockerodeT {
  if (!ctor) {
    // Only when dockerode is not loaded yet: once it is, its requires are done.
    if (!require.cache[require.resolve('dockerode')]) for (const [id, from] of DEFERRED) defer(resolveFrom(id, from));
    ctor = require('dockerode') as typeof DockerodeT;
  }
  return ctor;
}

/** A Docker client on the engine's unix socket (default /var/run/docker.sock). */
export function connectDocker(opts: DockerodeT.DockerOptions = {}): DockerodeT {
  const Docker = dockerode();
  return new Docker({ socketPath: '/var/run/docker.sock', ...opts });
}

/** Whether a deferred module has been loaded for real in this process (tests, the memory benchmark). */
export function loadedForReal(id: string, from: string): boolean {
  const m = require.cache[resolveFrom(id, from)];
  return !!m && !standIns.has(m);
}
