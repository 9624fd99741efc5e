/**
 * A small REST client for the controllers: plain JSON in and out, with the
 * transport, CA and credentials of a @kubernetes/client-node KubeConfig.
 *
 * Why not the generated typed clients: they convert timestamps to Date objects
 * and drop fields they do not know, while the controllers compare and copy
 * objects (pod templates, annotations) exactly as the server stored them.
 * Informers use the same client for their lists, so cache and writes agree.
 */
import { Agent, request, type RequestOptions } from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';
import type { Obj } from './objects.js';

/** A non-2xx answer, carrying the Kubernetes Status reason and code. */
export class ApiError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly status?: Obj,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export const isNotFound = (e: unknown): boolean => e instanceof ApiError && e.code === 404;
export const isConflict = (e: unknown): boolean => e instanceof ApiError && e.code === 409 && e.reason === 'Conflict';
export const isAlreadyExists = (e: unknown): boolean => e instanceof ApiError && e.code === 409 && e.reason === 'AlreadyExists';

/** A create refused because the namespace is being deleted: nothing to retry. */
export const isNamespaceTerminating = (e: unknown): boolean =>
  e instanceof ApiError && e.code === 403 && (e.status?.details?.causes ?? []).some((c: { reason?: string }) => c.reason === 'NamespaceTerminating');

export type PatchType = 'merge' | 'json' | 'strategic';

const PATCH_TYPES: Record<PatchType, string> = {
  merge: 'application/merge-patch+json',
  json: 'application/json-patch+json',
  strategic: 'application/strategic-merge-patch+json',
};

export interface DeleteOptions {
  propagationPolicy?: 'Background' | 'Foreground' | 'Orphan';
  gracePeriodSeconds?: number;
  preconditions?: { uid?: string; resourceVersion?: string };
}

/** The operations the controllers need. Implemented over HTTPS; tests may fake it. */
export interface Api {
  get(path: string): Promise<Obj>;
  list(path: string, query?: Record<string, string>): Promise<Obj>;
  create(path: string, body: Obj): Promise<Obj>;
  update(path: string, body: Obj): Promise<Obj>;
  patch(path: string, body: unknown, type?: PatchType): Promise<Obj>;
  delete(path: string, opts?: DeleteOptions): Promise<Obj>;
}

/**
 * Where the API server is and how to prove who we are, without a KubeConfig:
 * the agent uses this so it never loads @kubernetes/client-node's runtime
 * (importing it costs ~100 MB of RSS, more than the agent's whole budget).
 */
export interface Credentials {
  server: string;
  ca: string;
  token: string;
}

export class ApiClient implements Api {
  private base: URL;
  private agent?: Agent;
  private opts?: RequestOptions;

  constructor(private readonly from: KubeConfig | Credentials) {
    if ('getCurrentCluster' in from) {
      const cluster = from.getCurrentCluster();
      if (!cluster) throw new Error('kubeconfig has no current cluster');
      this.base = new URL(cluster.server);
    } else this.base = new URL(from.server);
  }

  /** TLS material and auth headers, resolved once (tokens in our kubeconfigs are static). */
  private async options(): Promise<RequestOptions> {
    if (this.opts) return this.opts;
    const o: RequestOptions = {};
    if ('getCurrentCluster' in this.from) await this.from.applyToHTTPSOptions(o);
    else {
      o.ca = this.from.ca;
      o.headers = { authorization: `Bearer ${this.from.token}` };
    }
    this.agent = new Agent({ ca: o.ca, cert: o.cert, key: o.key, rejectUnauthorized: o.rejectUnauthorized, keepAlive: true, maxSockets: 32 });
    this.opts = { headers: { ...(o.headers ?? {}) }, auth: o.auth, agent: this.agent, servername: o.servername };
    return this.opts;
  }

  /**
   * A watch stream: calls `onEvent` for each `{type, object}` line until the server
   * ends the stream (resolves), the request fails (rejects with ApiError for a
   * non-200 answer) or `signal` aborts (resolves).
   */
  async watch(path: string, query: Record<string, string>, onEvent: (e: { type: string; object: Obj }) => void, signal: AbortSignal): Promise<void> {
    const o = await this.options();
    const url = new URL(`${path}?${new URLSearchParams({ ...query, watch: 'true' })}`, this.base);
    await new Promise<void>((resolve, reject) => {
      if (signal.aborted) return resolve();
      const req = request(url, { ...o, method: 'GET', headers: { ...(o.headers as Record<string, string>), accept: 'application/json' } }, (res) => {
        if (res.statusCode !== 200) {
          let text = '';
          res.on('data', (c: Buffer) => (text += c));
          res.on('end', () => {
            let st: Obj = {};
            try {
              st = JSON.parse(text) as Obj;
            } catch {
              /* not a Status */
            }
            reject(new ApiError(res.statusCode ?? 0, st.reason ?? String(res.statusCode), `watch ${path}: ${st.message ?? text}`, st));
          });
          return;
        }
        let buf = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          buf += chunk;
          let i: number;
          while ((i = buf.indexOf('\n')) >= 0) {
            const line = buf.slice(0, i);
            buf = buf.slice(i + 1);
            if (!line.trim()) continue;
            try {
              onEvent(JSON.parse(line) as { type: string; object: Obj });
            } catch (e) {
              req.destroy(e as Error);
            }
          }
        });
        res.on('end', () => resolve());
        res.on('error', (e) => (signal.aborted ? resolve() : reject(e)));
      });
      const abort = (): void => {
        req.destroy();
        resolve();
      };
      signal.addEventListener('abort', abort, { once: true });
      req.on('close', () => signal.removeEventListener('abort', abort));
      req.on('error', (e) => (signal.aborted ? resolve() : reject(e)));
      req.end();
    });
  }

  async request(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<Obj> {
    const o = await this.options();
    const url = new URL(path, this.base);
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    return new Promise((resolve, reject) => {
      const req = request(
        url,
        {
          ...o,
          method,
          headers: {
            ...(o.headers as Record<string, string>),
            accept: 'application/json',
            ...(payload ? { 'content-type': contentType, 'content-length': String(payload.length) } : {}),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', reject);
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let parsed: Obj = {};
            try {
              parsed = text ? (JSON.parse(text) as Obj) : {};
            } catch {
              parsed = { message: text };
            }
            const code = res.statusCode ?? 0;
            if (code >= 200 && code < 300) resolve(parsed);
            else reject(new ApiError(code, parsed.reason ?? String(code), `${method} ${path}: ${parsed.message ?? text}`, parsed));
          });
        },
      );
      req.setTimeout(60_000, () => req.destroy(new Error(`${method} ${path}: timed out`)));
      req.on('error', reject);
      req.end(payload);
    });
  }

  get(path: string): Promise<Obj> {
    return this.request('GET', path);
  }

  list(path: string, query: Record<string, string> = {}): Promise<Obj> {
    const q = new URLSearchParams(query).toString();
    return this.request('GET', q ? `${path}?${q}` : path);
  }

  create(path: string, body: Obj): Promise<Obj> {
    return this.request('POST', path, body);
  }

  update(path: string, body: Obj): Promise<Obj> {
    return this.request('PUT', path, body);
  }

  patch(path: string, body: unknown, type: PatchType = 'merge'): Promise<Obj> {
    return this.request('PATCH', path, body, PATCH_TYPES[type]);
  }

  delete(path: string, opts: DeleteOptions = {}): Promise<Obj> {
    return this.request('DELETE', path, { kind: 'DeleteOptions', apiVersion: 'v1', ...opts });
  }

  /** Closes pooled connections. */
  close(): void {
    this.agent?.destroy();
  }
}
