/**
 * Request decoding and response encoding at the API boundary: bodies (JSON,
 * YAML, patches), query parameters, content negotiation, and Status errors.
 * Nothing here knows what a resource means.
 */
import type { Request, Response } from 'express';
import yaml from 'js-yaml';
import { badRequest, internalError, StatusError, unsupportedMediaType } from '../../common/errors.js';
import type { Logger } from '../../common/log.js';
import { isPlainObject, parseBool, parseIntParam, type Obj } from './objects.js';
import { decodeProtobufObject, PROTOBUF_MEDIA_TYPE } from './protobuf.js';

/** Writes a JSON answer with exactly `application/json` (no charset: clients compare media types). */
export function sendJson(res: Response, code: number, body: unknown, contentType = 'application/json'): void {
  const text = JSON.stringify(body);
  res.statusCode = code;
  res.setHeader('Content-Type', contentType);
  res.setHeader('Content-Length', Buffer.byteLength(text));
  res.end(text);
}

export function sendError(res: Response, e: unknown, log: Logger): void {
  const err = e instanceof StatusError ? e : toStatusError(e);
  if (err.code >= 500) log.error({ err: e }, 'request failed');
  if (res.headersSent) {
    res.end();
    return;
  }
  if (err.details?.retryAfterSeconds) res.set('Retry-After', String(err.details.retryAfterSeconds));
  sendJson(res, err.code, err.toStatus());
}

function toStatusError(e: unknown): StatusError {
  const x = e as { type?: string; status?: number; message?: string };
  if (x?.type === 'entity.too.large' || x?.status === 413) return new StatusError(413, 'RequestEntityTooLarge', 'Request entity too large: limit is 3145728');
  if (x?.status && x.status >= 400 && x.status < 500) return badRequest(x.message ?? 'bad request');
  return internalError(x?.message ?? String(e));
}

/** One query parameter as a string (the first when repeated). */
export function q(req: Request, name: string): string | undefined {
  const v = (req.query as Record<string, unknown>)[name];
  if (Array.isArray(v)) return typeof v[0] === 'string' ? v[0] : undefined;
  return typeof v === 'string' ? v : undefined;
}

/** All values of a repeated query parameter. */
export function qAll(req: Request, name: string): string[] {
  const v = (req.query as Record<string, unknown>)[name];
  if (Array.isArray(v)) return v.filter((x): x is string => typeof x === 'string');
  return typeof v === 'string' ? [v] : [];
}

export function qBool(req: Request, name: string): boolean | undefined {
  try {
    return parseBool(q(req, name));
  } catch (e) {
    throw badRequest(`${name}: ${(e as Error).message}`);
  }
}

export function qInt(req: Request, name: string): number | undefined {
  try {
    return parseIntParam(q(req, name), name);
  } catch (e) {
    throw badRequest((e as Error).message);
  }
}

function mediaType(req: Request): string {
  return (req.get('content-type') ?? '').split(';')[0].trim().toLowerCase();
}

/** The request body as a value: JSON, YAML or Kubernetes protobuf (for the kinds protobuf.ts knows) by Content-Type. */
export function decodeBody(req: Request, mt = mediaType(req)): unknown {
  const raw = Buffer.isBuffer(req.body) ? req.body.toString('utf8') : '';
  if (raw.trim() === '') throw badRequest('request body is empty');
  // client-go typed clients (kubectl create <generator>) send protobuf with no JSON fallback.
  if (mt === PROTOBUF_MEDIA_TYPE) return decodeProtobufObject(req.body as Buffer);
  if (mt === 'application/yaml' || mt === 'application/apply-patch+yaml' || mt === 'application/x-yaml' || mt === 'text/yaml') {
    try {
      return yaml.load(raw, { schema: yaml.JSON_SCHEMA });
    } catch (e) {
      throw badRequest(`error converting YAML to JSON: ${(e as Error).message.split('\n')[0]}`);
    }
  }
  if (mt === '' || mt.endsWith('json') || mt === '*/*') {
    try {
      return JSON.parse(raw);
    } catch (e) {
      throw badRequest(`couldn't get version/kind; json parse error: ${(e as Error).message}`);
    }
  }
  throw unsupportedMediaType(mt);
}

/** An object body for create/update, defaulted to and checked against the endpoint's group/version/kind. */
export function decodeObject(req: Request, apiVersion: string, kind: string): Obj {
  const body = decodeBody(req);
  if (!isPlainObject(body)) throw badRequest('the request body must be a JSON or YAML object');
  // Like the apiserver's decoder, a missing apiVersion/kind defaults to the endpoint's
  // (typed clients often send bare objects); only a contradiction is an error.
  body.apiVersion ??= apiVersion;
  body.kind ??= kind;
  if (body.apiVersion !== apiVersion) {
    throw badRequest(`the API version in the data (${body.apiVersion}) does not match the expected API version (${apiVersion})`);
  }
  if (body.kind !== kind) throw badRequest(`the kind in the data (${body.kind}) does not match the expected kind (${kind})`);
  if (body.metadata !== undefined && !isPlainObject(body.metadata)) throw badRequest('metadata must be an object');
  return body;
}

export function patchMediaType(req: Request): string {
  return mediaType(req);
}

export type TableMode = 'None' | 'Metadata' | 'Object';

/** Whether the client asked for a meta.k8s.io Table (kubectl get). */
export function wantsTable(req: Request): boolean {
  const accept = req.get('accept') ?? '';
  return accept.split(',').some((p) => /as=Table/.test(p) && /g=meta\.k8s\.io/.test(p));
}

export function includeObject(req: Request): TableMode {
  const v = q(req, 'includeObject');
  if (v === 'None' || v === 'Object') return v;
  return 'Metadata';
}

export type FieldValidation = 'Strict' | 'Warn' | 'Ignore';

export function fieldValidation(req: Request): FieldValidation {
  const v = q(req, 'fieldValidation');
  if (v === undefined || v === '') return 'Warn';
  if (v === 'Strict' || v === 'Warn' || v === 'Ignore') return v;
  throw badRequest(`fieldValidation must be one of "Ignore", "Warn", or "Strict", got "${v}"`);
}

export function isDryRun(req: Request): boolean {
  const v = qAll(req, 'dryRun');
  if (v.some((x) => x !== 'All')) throw badRequest(`Invalid dry run value: ${v.join(',')}; valid values are 'All'`);
  return v.length > 0;
}

/** Adds a `Warning` header as Kubernetes does (code 299, agent "-"). */
export function warn(res: Response, text: string): void {
  res.append('Warning', `299 - ${JSON.stringify(text)}`);
}
