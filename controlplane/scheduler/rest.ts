/**
 * A small JSON REST client over the kubeconfig's own transport: the
 * @kubernetes/client-node KubeConfig supplies the TLS dispatcher (undici, with
 * the cluster CA and client certificate) and the auth headers, and we issue
 * raw requests on one keep-alive connection pool. The scheduler writes
 * bindings, status patches and events at hundreds to thousands per second;
 * the generated API classes would rebuild the transport per call and convert
 * every object through the model serializer, which is a measurable share of
 * the scheduler's time at that rate.
 *
 * Non-2xx answers are results, not exceptions: callers branch on `status`
 * (409 conflict, 404 gone). Transport failures reject.
 */
import { HttpMethod, RequestContext, type KubeConfig } from '@kubernetes/client-node';

export interface ApiResponse {
  status: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
}

/** The part of undici's Dispatcher we use (the KubeConfig hands us an undici Agent). */
interface Dispatcher {
  request(o: { origin: string; path: string; method: string; headers: Record<string, string>; body?: string; signal?: AbortSignal }): Promise<{
    statusCode: number;
    body: { text(): Promise<string> };
  }>;
  close?(): Promise<void>;
}

/** Re-read auth headers this often (exec and OIDC credentials expire; static tokens do not care). */
const AUTH_REFRESH_MS = 5 * 60_000;

export class RestClient {
  /** Auth headers plus accept; requests without a body send this very object. */
  private headers: Record<string, string> = {};
  private authAt = -Infinity;
  private readonly origin: string;
  private readonly prefix: string;

  private constructor(
    private readonly kc: KubeConfig,
    server: string,
    private readonly dispatcher: Dispatcher | undefined,
  ) {
    const u = new URL(server);
    this.origin = u.origin;
    // A server URL may carry a path prefix (behind a proxy).
    this.prefix = u.pathname.replace(/\/$/, '');
  }

  static async create(kc: KubeConfig): Promise<RestClient> {
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new Error('kubeconfig has no current cluster');
    const ctx = new RequestContext(cluster.server, HttpMethod.GET);
    await kc.applySecurityAuthentication(ctx);
    const client = new RestClient(kc, cluster.server, ctx.getDispatcher() as unknown as Dispatcher | undefined);
    client.headers = { ...ctx.getHeaders(), accept: 'application/json' };
    client.authAt = Date.now();
    return client;
  }

  private async refreshAuth(): Promise<void> {
    const ctx = new RequestContext(this.origin, HttpMethod.GET);
    await this.kc.applySecurityAuthentication(ctx);
    this.headers = { ...ctx.getHeaders(), accept: 'application/json' };
    this.authAt = Date.now();
  }

  /** One request; `body` is sent as JSON with `contentType`. Resolves with any HTTP status. */
  async request(method: string, path: string, body?: unknown, contentType = 'application/json', signal?: AbortSignal): Promise<ApiResponse> {
    if (Date.now() - this.authAt > AUTH_REFRESH_MS) await this.refreshAuth();
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const headers = payload === undefined ? this.headers : { ...this.headers, 'content-type': contentType };
    const fullPath = this.prefix + path;
    let status: number;
    let text: string;
    if (this.dispatcher) {
      const res = await this.dispatcher.request({ origin: this.origin, path: fullPath, method, headers, body: payload, signal });
      status = res.statusCode;
      text = await res.body.text();
    } else {
      // Plain http (skipTLSVerify clusters): no dispatcher; the global fetch will do.
      const res = await fetch(this.origin + fullPath, { method, headers, body: payload, signal });
      status = res.status;
      text = await res.text();
    }
    let parsed: unknown = undefined;
    if (text) {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = { message: text };
      }
    }
    return { status, body: parsed };
  }

  /**
   * Opens up to `n` pooled connections at once with cheap concurrent GETs, so
   * the first burst of bindings does not pay n TLS handshakes. Best effort.
   */
  async warm(n: number): Promise<void> {
    await Promise.allSettled(Array.from({ length: n }, () => this.request('GET', '/version')));
  }

  /** GET a list; throws unless 200 (informers retry). */
  async list<T>(path: string): Promise<{ metadata: { resourceVersion?: string }; items: T[] }> {
    const r = await this.request('GET', path);
    if (r.status !== 200) throw Object.assign(new Error(`GET ${path}: ${r.status} ${r.body?.message ?? ''}`), { statusCode: r.status });
    return { metadata: r.body?.metadata ?? {}, items: r.body?.items ?? [] };
  }

  async close(): Promise<void> {
    await this.dispatcher?.close?.().catch(() => undefined);
  }
}

/** Path of a namespaced pod (sub)resource. */
export function podPath(namespace: string, name: string, sub?: string): string {
  return `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(name)}${sub ? `/${sub}` : ''}`;
}
