/**
 * The resource endpoints: `/api/v1/...` and `/apis/<group>/<version>/...`.
 * Parses the path, authorizes, decodes the request, calls the registry, and
 * encodes the answer (JSON object, list, Table, or a watch stream).
 */
import type { Request, Response } from 'express';
import { badRequest, methodNotAllowed, StatusError, statusSuccess } from '../../common/errors.js';
import { parseLabelSelector } from '../../common/labels.js';
import type { Logger } from '../../common/log.js';
import { authorize, type UserInfo } from './auth.js';
import { parseFieldSelector } from './fields.js';
import {
  decodeBody,
  decodeObject,
  fieldValidation,
  includeObject,
  isDryRun,
  patchMediaType,
  q,
  qBool,
  qInt,
  sendJson,
  wantsTable,
  warn,
  type FieldValidation,
} from './http.js';
import { isPlainObject, type Obj } from './objects.js';
import { patchTypeFromContentType } from './patch/index.js';
import type { DeleteOptions, ListOptions, Registry } from './registry.js';
import { findResource, groupVersion, type ResourceDef } from './resources.js';
import { unknownFields } from './schema.js';
import { handleSubresource } from './subresources.js';
import { toTable } from './tables.js';
import { streamWatch, type WatchSettings } from './watchstream.js';

export interface Target {
  r: ResourceDef;
  namespace?: string;
  name?: string;
  sub?: string;
}

/** Resolves `segments` (after `/api/v1` or `/apis/g/v`) to a resource target. */
export function parseTarget(group: string, version: string, segs: string[]): Target | undefined {
  let namespace: string | undefined;
  let rest = segs;
  if (segs[0] === 'namespaces' && segs.length >= 3 && !(segs.length === 3 && (segs[2] === 'status' || segs[2] === 'finalize') && group === '')) {
    namespace = segs[1];
    rest = segs.slice(2);
  }
  if (rest.length < 1 || rest.length > 3) return undefined;
  const r = findResource(group, version, rest[0]);
  if (!r) return undefined;
  if (namespace !== undefined && !r.namespaced) return undefined;
  const [, name, sub] = rest;
  if (r.namespaced && name !== undefined && namespace === undefined) return undefined;
  if (sub !== undefined && !r.subresources.some((s) => s.name === sub)) return undefined;
  return { r, namespace, name, sub };
}

function verbOf(method: string, t: Target, watch: boolean): string {
  switch (method) {
    case 'GET':
      if (!t.name) return watch ? 'watch' : 'list';
      return watch ? 'watch' : 'get';
    case 'POST':
      return 'create';
    case 'PUT':
      return 'update';
    case 'PATCH':
      return 'patch';
    case 'DELETE':
      return t.name ? 'delete' : 'deletecollection';
    default:
      return method.toLowerCase();
  }
}

function listOptions(req: Request, r: ResourceDef): ListOptions {
  const ls = q(req, 'labelSelector');
  const fs = q(req, 'fieldSelector');
  const limit = qInt(req, 'limit');
  if (limit !== undefined && limit < 0) throw badRequest('limit must be non-negative');
  return {
    labelSelector: ls ? parseLabelSelector(ls) : undefined,
    fieldSelector: fs ? parseFieldSelector(fs, r.plural) : undefined,
    limit,
    continueToken: q(req, 'continue') || undefined,
    resourceVersion: q(req, 'resourceVersion'),
  };
}

function deleteOptions(req: Request): DeleteOptions {
  let body: Obj = {};
  if (Buffer.isBuffer(req.body) && req.body.length > 0 && req.body.toString('utf8').trim() !== '') {
    const b = decodeBody(req);
    if (!isPlainObject(b)) throw badRequest('DeleteOptions must be an object');
    body = b;
  }
  const grace = qInt(req, 'gracePeriodSeconds') ?? body.gracePeriodSeconds;
  const policy = q(req, 'propagationPolicy') ?? body.propagationPolicy;
  if (policy !== undefined && !['Orphan', 'Background', 'Foreground'].includes(policy)) {
    throw badRequest(`propagationPolicy: Unsupported value: "${policy}": supported values: "Foreground", "Background", "Orphan"`);
  }
  if (grace !== undefined && (typeof grace !== 'number' || !Number.isInteger(grace))) throw badRequest('gracePeriodSeconds must be an integer');
  return {
    gracePeriodSeconds: grace,
    propagationPolicy: policy,
    orphanDependents: qBool(req, 'orphanDependents') ?? body.orphanDependents,
    preconditions: body.preconditions,
  };
}

/** Applies fieldValidation to an object: Strict rejects unknown fields, Warn reports them. */
export function checkFields(res: Response, mode: FieldValidation, apiVersion: string, kind: string, o: unknown): void {
  if (mode === 'Ignore') return;
  const unknown = unknownFields(apiVersion, kind, o);
  if (!unknown.length) return;
  if (mode === 'Strict') {
    const list = unknown.map((f) => `unknown field "${f}"`).join(', ');
    throw badRequest(`strict decoding error: ${list}`);
  }
  for (const f of unknown) warn(res, `unknown field "${f}"`);
}

export class ResourceHandler {
  constructor(
    private readonly reg: Registry,
    private readonly log: Logger,
    private readonly watchSettings: WatchSettings,
  ) {}

  /** Serves one request on a resource path; `segs` are the path segments after the group version. */
  async handle(req: Request, res: Response, group: string, version: string, segs: string[], user: UserInfo): Promise<void> {
    const t = parseTarget(group, version, segs);
    if (!t) throw new StatusError(404, 'NotFound', 'the server could not find the requested resource', {});
    const watch = req.method === 'GET' && qBool(req, 'watch') === true;
    const verb = verbOf(req.method, t, watch);
    if (!t.sub && !t.r.verbs.includes(verb)) throw methodNotAllowed();
    // Objects are created on the collection; replaced and patched by name.
    if (!t.sub && ((verb === 'create' && t.name) || ((verb === 'update' || verb === 'patch') && !t.name))) throw methodNotAllowed();
    if (verb === 'create' && t.r.namespaced && t.namespace === undefined) throw methodNotAllowed();
    const denied = authorize(user, { verb, group, resource: t.r.plural, subresource: t.sub, namespace: t.namespace, name: t.name });
    if (denied) throw new StatusError(403, 'Forbidden', denied, { name: t.name, group: group || undefined, kind: t.r.plural });
    if (t.sub && t.sub !== 'status') return handleSubresource(this.reg, req, res, t, verb);
    switch (verb) {
      case 'get':
        return this.get(req, res, t);
      case 'list':
        return this.list(req, res, t);
      case 'watch':
        return this.watch(req, res, t);
      case 'create':
        return this.create(req, res, t);
      case 'update':
        return this.update(req, res, t);
      case 'patch':
        return this.patch(req, res, t);
      case 'delete':
        return this.delete(req, res, t);
      case 'deletecollection':
        return this.deleteCollection(req, res, t);
      default:
        throw methodNotAllowed();
    }
  }

  private respond(req: Request, res: Response, code: number, r: ResourceDef, o: Obj): void {
    if (wantsTable(req) && req.method === 'GET') {
      sendJson(res, code, toTable(r.plural, [o], { now: new Date(), includeObject: includeObject(req), resourceVersion: o.metadata?.resourceVersion }));
      return;
    }
    sendJson(res, code, o);
  }

  private async get(req: Request, res: Response, t: Target): Promise<void> {
    const o = await this.reg.get(t.r, t.namespace, t.name!);
    this.respond(req, res, 200, t.r, o);
  }

  private async list(req: Request, res: Response, t: Target): Promise<void> {
    const opts = listOptions(req, t.r);
    const out = await this.reg.list(t.r, t.namespace, opts);
    if (wantsTable(req)) {
      sendJson(res, 200, toTable(t.r.plural, out.items, {
        now: new Date(),
        includeObject: includeObject(req),
        resourceVersion: out.resourceVersion,
        continue: out.continueToken,
        remainingItemCount: out.remainingItemCount,
      }));
      return;
    }
    sendJson(res, 200, {
      kind: t.r.listKind,
      apiVersion: groupVersion(t.r),
      metadata: {
        resourceVersion: out.resourceVersion,
        ...(out.continueToken ? { continue: out.continueToken } : {}),
        ...(out.remainingItemCount !== undefined ? { remainingItemCount: out.remainingItemCount } : {}),
      },
      items: out.items,
    });
  }

  private async watch(req: Request, res: Response, t: Target): Promise<void> {
    const opts = listOptions(req, t.r);
    if (t.name) {
      // GET .../pods/x?watch=true: watch one object.
      opts.fieldSelector = parseFieldSelector(`metadata.name=${t.name.replace(/[\\,=]/g, (c) => `\\${c}`)}`, t.r.plural);
    }
    if (q(req, 'sendInitialEvents') !== undefined) throw badRequest('sendInitialEvents is not supported by this server');
    const timeout = qInt(req, 'timeoutSeconds');
    await streamWatch(this.reg, req, res, t.r, t.namespace, {
      labelSelector: opts.labelSelector,
      fieldSelector: opts.fieldSelector,
      resourceVersion: opts.resourceVersion,
      timeoutSeconds: timeout,
      bookmarks: qBool(req, 'allowWatchBookmarks') === true,
      table: wantsTable(req) ? includeObject(req) : undefined,
    }, this.watchSettings, this.log);
  }

  private async create(req: Request, res: Response, t: Target): Promise<void> {
    const body = decodeObject(req, groupVersion(t.r), t.r.kind);
    checkFields(res, fieldValidation(req), groupVersion(t.r), t.r.kind, body);
    const ns = t.namespace;
    if (t.r.namespaced && body.metadata?.namespace && body.metadata.namespace !== ns) {
      throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
    }
    const o = await this.reg.create(t.r, ns, body, { dryRun: isDryRun(req) });
    sendJson(res, 201, o);
  }

  private async update(req: Request, res: Response, t: Target): Promise<void> {
    const body = decodeObject(req, groupVersion(t.r), t.r.kind);
    checkFields(res, fieldValidation(req), groupVersion(t.r), t.r.kind, body);
    if (body.metadata?.name !== undefined && body.metadata.name !== t.name) {
      throw badRequest(`the name of the object (${body.metadata.name}) does not match the name on the URL (${t.name})`);
    }
    if (t.r.namespaced && body.metadata?.namespace && body.metadata.namespace !== t.namespace) {
      throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
    }
    body.metadata = { ...(body.metadata ?? {}), name: t.name };
    const { obj, created } = await this.reg.update(t.r, t.namespace, t.name!, body, { dryRun: isDryRun(req) }, t.sub);
    sendJson(res, created ? 201 : 200, obj);
  }

  private async patch(req: Request, res: Response, t: Target): Promise<void> {
    const type = patchTypeFromContentType(patchMediaType(req));
    if (!type) {
      throw new StatusError(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json`);
    }
    if (type === 'apply' && !q(req, 'fieldManager')) throw badRequest('PATCH, application/apply-patch+yaml: fieldManager is required for apply requests');
    const patch = decodeBody(req);
    const mode = fieldValidation(req);
    if (type === 'apply') {
      if (!isPlainObject(patch)) throw badRequest('apply patch must be an object');
      const apiVersion = groupVersion(t.r);
      if (patch.apiVersion !== apiVersion || patch.kind !== t.r.kind) {
        throw badRequest(`the API version and kind in the data (${patch.apiVersion}, ${patch.kind}) do not match the expected (${apiVersion}, ${t.r.kind})`);
      }
      checkFields(res, mode, apiVersion, t.r.kind, patch);
    } else if (type !== 'json' && isPlainObject(patch)) {
      checkFields(res, mode, groupVersion(t.r), t.r.kind, stripDirectives(patch));
    }
    const { obj, created } = await this.reg.patch(t.r, t.namespace, t.name!, type, patch, { dryRun: isDryRun(req) }, t.sub);
    sendJson(res, created ? 201 : 200, obj);
  }

  private async delete(req: Request, res: Response, t: Target): Promise<void> {
    const { obj, finished } = await this.reg.delete(t.r, t.namespace, t.name!, deleteOptions(req), { dryRun: isDryRun(req) });
    if (!finished) {
      // A pending deletion (grace period, finalizers) answers with the object as stored.
      sendJson(res, 200, obj);
      return;
    }
    sendJson(res, 200, statusSuccess({ name: t.name, ...(t.r.group ? { group: t.r.group } : {}), kind: t.r.plural, uid: obj.metadata?.uid }));
  }

  private async deleteCollection(req: Request, res: Response, t: Target): Promise<void> {
    const opts = listOptions(req, t.r);
    const items = await this.reg.deleteCollection(t.r, t.namespace, opts, deleteOptions(req), { dryRun: isDryRun(req) });
    sendJson(res, 200, { kind: t.r.listKind, apiVersion: groupVersion(t.r), metadata: {}, items });
  }
}

/** Strategic-merge directives (`$patch`, `$setElementOrder/...`) are not fields. */
function stripDirectives(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(stripDirectives);
  if (!isPlainObject(v)) return v;
  const out: Obj = {};
  for (const [k, x] of Object.entries(v)) if (!k.startsWith('$')) out[k] = stripDirectives(x);
  return out;
}

