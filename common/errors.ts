/**
 * Errors that carry a Kubernetes `Status`. Code inside the control plane throws
 * StatusError (or returns one); the API boundary turns it into the wire object.
 * Reasons, codes and message shapes follow apimachinery's `errors` package.
 */

export interface StatusCause {
  reason?: string;
  message?: string;
  field?: string;
}

export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  uid?: string;
  causes?: StatusCause[];
  retryAfterSeconds?: number;
}

export interface Status {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Success' | 'Failure';
  message?: string;
  reason?: string;
  details?: StatusDetails;
  code: number;
}

export type Reason =
  | 'BadRequest'
  | 'Unauthorized'
  | 'Forbidden'
  | 'NotFound'
  | 'AlreadyExists'
  | 'Conflict'
  | 'Gone'
  | 'Expired'
  | 'Invalid'
  | 'MethodNotAllowed'
  | 'NotAcceptable'
  | 'UnsupportedMediaType'
  | 'RequestEntityTooLarge'
  | 'TooManyRequests'
  | 'InternalError'
  | 'ServiceUnavailable'
  | 'Timeout';

export class StatusError extends Error {
  readonly code: number;
  readonly reason: Reason;
  readonly details?: StatusDetails;

  constructor(code: number, reason: Reason, message: string, details?: StatusDetails) {
    super(message);
    this.name = 'StatusError';
    this.code = code;
    this.reason = reason;
    this.details = details;
  }

  toStatus(): Status {
    const s: Status = {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: this.message,
      reason: this.reason,
      code: this.code,
    };
    if (this.details) s.details = this.details;
    return s;
  }
}

/** `pods` / `deployments.apps`: how Kubernetes names a resource in messages. */
export function qualifiedResource(resource: string, group?: string): string {
  return group ? `${resource}.${group}` : resource;
}

export function notFound(resource: string, name: string, group?: string): StatusError {
  return new StatusError(404, 'NotFound', `${qualifiedResource(resource, group)} "${name}" not found`, {
    name,
    ...(group ? { group } : {}),
    kind: resource,
  });
}

export function alreadyExists(resource: string, name: string, group?: string): StatusError {
  return new StatusError(409, 'AlreadyExists', `${qualifiedResource(resource, group)} "${name}" already exists`, {
    name,
    ...(group ? { group } : {}),
    kind: resource,
  });
}

export function conflict(resource: string, name: string, group?: string, why?: string): StatusError {
  const tail = why ?? 'the object has been modified; please apply your changes to the latest version and try again';
  return new StatusError(
    409,
    'Conflict',
    `Operation cannot be fulfilled on ${qualifiedResource(resource, group)} "${name}": ${tail}`,
    { name, ...(group ? { group } : {}), kind: resource },
  );
}

export interface FieldError {
  /** FieldValueInvalid, FieldValueRequired, FieldValueNotSupported, FieldValueDuplicate, FieldValueForbidden, FieldValueTooLong, FieldValueTypeInvalid */
  reason: string;
  /** Dotted path as Kubernetes prints it, e.g. `spec.containers[0].image`. */
  field: string;
  /** The detail, e.g. `Required value` or `Invalid value: -1: must be greater than or equal to 0`. */
  message: string;
}

/** 422 Invalid, message as apimachinery prints it: `Deployment.apps "x" is invalid: spec.replicas: Invalid value: ...`. */
export function invalid(kind: string, name: string, errs: FieldError[], group?: string): StatusError {
  const qkind = group ? `${kind}.${group}` : kind;
  const parts = errs.map((e) => `${e.field}: ${e.message}`);
  const summary = parts.length === 1 ? parts[0] : `[${parts.join(', ')}]`;
  return new StatusError(422, 'Invalid', `${qkind} "${name}" is invalid: ${summary}`, {
    name,
    ...(group ? { group } : {}),
    kind,
    causes: errs.map((e) => ({ reason: e.reason, message: e.message, field: e.field })),
  });
}

export function badRequest(message: string): StatusError {
  return new StatusError(400, 'BadRequest', message);
}

export function methodNotAllowed(message = 'the server does not allow this method on the requested resource'): StatusError {
  return new StatusError(405, 'MethodNotAllowed', message);
}

export function unauthorized(message = 'Unauthorized'): StatusError {
  return new StatusError(401, 'Unauthorized', message);
}

export function forbidden(message: string): StatusError {
  return new StatusError(403, 'Forbidden', message);
}

export function tooLarge(message = 'Request entity too large: limit is 3145728'): StatusError {
  return new StatusError(413, 'RequestEntityTooLarge', message);
}

export function expired(message: string): StatusError {
  return new StatusError(410, 'Expired', message);
}

export function tooManyRequests(message: string, retryAfterSeconds?: number): StatusError {
  return new StatusError(429, 'TooManyRequests', message, retryAfterSeconds ? { retryAfterSeconds } : undefined);
}

export function unsupportedMediaType(contentType: string): StatusError {
  return new StatusError(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json, application/apply-patch+yaml (got ${contentType})`);
}

export function internalError(message: string): StatusError {
  return new StatusError(500, 'InternalError', `Internal error occurred: ${message}`);
}

export function statusSuccess(details?: StatusDetails): Record<string, unknown> {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', ...(details ? { details } : {}) };
}
