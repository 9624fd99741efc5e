/**
 * The express application: health and discovery (unauthenticated health only),
 * bearer-token authentication, a 3 MiB body cap, and the resource endpoints.
 * Every failure leaves as a Kubernetes Status; nothing a client sends can throw
 * past this layer.
 */
import express, { type NextFunction, type Request, type Response } from 'express';
import { StatusError, unauthorized } from '../../common/errors.js';
import type { Logger } from '../../common/log.js';
import type { Authenticator, UserInfo } from './auth.js';
import { aggregatedDiscovery, AGGREGATED_CONTENT_TYPE, apiGroup, apiGroupList, apiResourceList, apiVersions, versionInfo, wantsAggregated } from './discovery.js';
import { ResourceHandler } from './handlers.js';
import { sendError, sendJson } from './http.js';
import { openapiGroupVersion, openapiIndex } from './schema.js';
import type { Registry } from './registry.js';
import type { WatchSettings } from './watchstream.js';

export const MAX_BODY_BYTES = 3 * 1024 * 1024;

export interface AppOptions {
  registry: Registry;
  auth: Authenticator;
  log: Logger;
  /** host:port clients should use, for /api's serverAddressByClientCIDRs. */
  serverAddress: string;
  watch: WatchSettings;
  /** Health of the backing store, for /readyz. */
  ready: () => Promise<boolean>;
  /** The cluster CA (PEM), served unauthenticated at /cacerts for agents joining with a K10 token (common/jointoken.ts). */
  caCert?: string;
}

type Handler = (req: Request, res: Response) => Promise<void> | void;

export function createApp(o: AppOptions): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', 'simple');
  const log = o.log;
  const resources = new ResourceHandler(o.registry, log, o.watch);

  const wrap = (h: Handler) => (req: Request, res: Response): void => {
    Promise.resolve()
      .then(() => h(req, res))
      .catch((e) => sendError(res, e, log));
  };

  // Like kube-apiserver: `ok`, or with ?verbose one line per check and a verdict.
  const health = (name: string, check: boolean): Handler => async (req, res) => {
    const storeOk = !check || (await o.ready().catch(() => false));
    const verbose = req.query.verbose !== undefined;
    const lines = ['[+]ping ok', ...(check ? [storeOk ? '[+]store ok' : '[-]store failed: reason withheld'] : [])];
    const verdict = storeOk ? `${name} check passed` : `${name} check failed`;
    res.status(storeOk ? 200 : 500).type('text/plain').send(verbose || !storeOk ? `${lines.join('\n')}\n${verdict}\n` : 'ok');
  };
  app.get('/healthz', wrap(health('healthz', false)));
  app.get('/livez', wrap(health('livez', false)));
  app.get('/readyz', wrap(health('readyz', true)));
  // Public by design (as k3s's): joining agents verify it against the hash in their token.
  const caCert = o.caCert;
  if (caCert) app.get('/cacerts', (_req, res) => void res.status(200).type('text/plain').send(Buffer.from(caCert)));

  // Authentication: everything below needs a valid bearer token.
  app.use((req, res, next) => {
    const user = o.auth.authenticate(req.get('authorization'));
    if (!user) {
      sendError(res, unauthorized(), log);
      return;
    }
    res.locals.user = user;
    next();
  });

  app.use(express.raw({ type: () => true, limit: MAX_BODY_BYTES }));

  app.get('/version', (_req, res) => sendJson(res, 200, versionInfo()));
  app.get('/api', (req, res) => {
    if (wantsAggregated(req.get('accept'))) {
      sendJson(res, 200, aggregatedDiscovery(true), AGGREGATED_CONTENT_TYPE);
      return;
    }
    sendJson(res, 200, apiVersions(o.serverAddress));
  });
  app.get('/apis', (req, res) => {
    if (wantsAggregated(req.get('accept'))) {
      sendJson(res, 200, aggregatedDiscovery(false), AGGREGATED_CONTENT_TYPE);
      return;
    }
    sendJson(res, 200, apiGroupList());
  });
  app.get('/openapi/v3', (_req, res) => sendJson(res, 200, openapiIndex()));
  app.get(/^\/openapi\/v3\/(api\/v1|apis\/[^/]+\/[^/]+)$/, wrap((req, res) => {
    const path = req.path.replace(/^\/openapi\/v3\//, '');
    const [group, version] = path === 'api/v1' ? ['', 'v1'] : path.split('/').slice(1);
    const doc = openapiGroupVersion(group, version);
    if (!doc) throw new StatusError(404, 'NotFound', 'the server could not find the requested resource', {});
    sendJson(res, 200, doc);
  }));
  app.get('/openapi/v2', (_req, res) => {
    // kubectl asks for v2 only as protobuf; answering 404 makes it use v3.
    sendError(res, new StatusError(404, 'NotFound', 'the server could not find the requested resource', {}), log);
  });

  app.all(/^\/api\/v1(\/.*)?$/, wrap(async (req, res) => {
    const segs = req.path.split('/').filter(Boolean).slice(2).map(decodeURIComponent);
    if (!segs.length && req.method === 'GET') return sendJson(res, 200, apiResourceList('', 'v1'));
    await resources.handle(req, res, '', 'v1', segs, res.locals.user as UserInfo);
  }));
  app.all(/^\/apis\/[^/]+(\/.*)?$/, wrap(async (req, res) => {
    const all = req.path.split('/').filter(Boolean).map(decodeURIComponent);
    const [, group, version, ...segs] = all;
    if (!version && req.method === 'GET') {
      const g = apiGroup(group);
      if (g) return sendJson(res, 200, g);
    }
    if (version && !segs.length && req.method === 'GET') {
      const list = apiResourceList(group, version);
      if (list) return sendJson(res, 200, list);
    }
    if (!version) throw new StatusError(404, 'NotFound', 'the server could not find the requested resource', {});
    await resources.handle(req, res, group, version, segs, res.locals.user as UserInfo);
  }));

  app.use((_req, res) => sendError(res, new StatusError(404, 'NotFound', 'the server could not find the requested resource', {}), log));
  // Body-parser failures (too large, aborted) and anything unexpected end here.
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => sendError(res, err, log));
  return app;
}
