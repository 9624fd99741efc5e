/**
 * The `paths` of a group version's OpenAPI v3 document, laid out like
 * kube-apiserver's: collection and item paths per resource (plus the
 * all-namespaces list) and one path per subresource.
 *
 * Two consumers depend on details here:
 * - kubectl's query-param verifier (cli-runtime `supportsQueryParamV3`) takes
 *   the first PATCH operation whose `x-kubernetes-group-version-kind` (one
 *   object) equals the GVK and requires a `fieldValidation` query parameter on
 *   it; so every PATCH operation, subresources included, lists it.
 * - PATCH bodies list no `application/strategic-merge-patch+json`: kubectl
 *   apply then builds strategic patches from its compiled-in types instead of
 *   from this schema, which lacks patch merge keys.
 * - `kubectl explain` reads the GVK from the operations on the collection and
 *   item paths (`{namespace}` / `{name}` literally) and then looks the kind up
 *   in `components.schemas`.
 */

import type { ResourceDef, SubresourceDef } from '../resources.js';

export interface Gvk {
  group: string;
  kind: string;
  version: string;
}

/** Schema names of the shared meta types. */
export interface MetaSchemas {
  deleteOptions: string;
  status: string;
  patch: string;
}

type Json = Record<string, unknown>;

const ref = (name: string): Json => ({ $ref: `#/components/schemas/${name}` });
const cap = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1);

function param(name: string, inWhere: 'query' | 'path', type: string, description: string): Json {
  const p: Json = { name, in: inWhere, description, schema: { type, uniqueItems: true } };
  if (inWhere === 'path') p.required = true;
  return p;
}

const P = {
  name: (kind: string) => param('name', 'path', 'string', `name of the ${kind}`),
  namespace: param('namespace', 'path', 'string', 'object name and auth scope, such as for teams and projects'),
  pretty: param('pretty', 'query', 'string', "If 'true', then the output is pretty printed."),
  dryRun: param('dryRun', 'query', 'string', 'When present, indicates that modifications should not be persisted. Valid value: All'),
  fieldManager: param('fieldManager', 'query', 'string', 'fieldManager is a name associated with the actor or entity that is making these changes.'),
  fieldValidation: param(
    'fieldValidation',
    'query',
    'string',
    'fieldValidation instructs the server on how to handle objects in the request (POST/PUT/PATCH) containing unknown or duplicate fields. Valid values are: Ignore, Warn, Strict.',
  ),
  force: param('force', 'query', 'boolean', 'Force is going to "force" Apply requests. It means user will re-acquire conflicting fields owned by other people.'),
};

const LIST_PARAMS: Json[] = [
  param('allowWatchBookmarks', 'query', 'boolean', 'allowWatchBookmarks requests watch events with type "BOOKMARK".'),
  param('continue', 'query', 'string', 'The continue option should be set when retrieving more results from the server.'),
  param('fieldSelector', 'query', 'string', 'A selector to restrict the list of returned objects by their fields. Defaults to everything.'),
  param('labelSelector', 'query', 'string', 'A selector to restrict the list of returned objects by their labels. Defaults to everything.'),
  param('limit', 'query', 'integer', 'limit is a maximum number of responses to return for a list call.'),
  param('resourceVersion', 'query', 'string', 'resourceVersion sets a constraint on what resource versions a request may be served from.'),
  param('resourceVersionMatch', 'query', 'string', 'resourceVersionMatch determines how resourceVersion is applied to list calls.'),
  param('sendInitialEvents', 'query', 'boolean', 'Not supported by this server.'),
  param('timeoutSeconds', 'query', 'integer', 'Timeout for the list/watch call.'),
  param('watch', 'query', 'boolean', 'Watch for changes to the described resources and return them as a stream of add, update, and remove notifications.'),
];
const DELETE_PARAMS: Json[] = [
  P.dryRun,
  param('gracePeriodSeconds', 'query', 'integer', 'The duration in seconds before the object should be deleted.'),
  param('orphanDependents', 'query', 'boolean', 'Deprecated: please use the PropagationPolicy.'),
  param('propagationPolicy', 'query', 'string', "Whether and how garbage collection will be performed. Either 'Orphan', 'Background' or 'Foreground'."),
];
const WRITE_PARAMS = [P.dryRun, P.fieldManager, P.fieldValidation];

const jsonContent = (schema: Json): Json => ({ 'application/json': { schema }, 'application/yaml': { schema } });
const respond = (codes: Record<string, string>, schema: Json, content = jsonContent(schema)): Json => ({
  ...Object.fromEntries(Object.entries(codes).map(([code, description]) => [code, { description, content }])),
  '401': { description: 'Unauthorized' },
});
const body = (schema: Json): Json => ({ content: { '*/*': { schema } }, required: true });

/** One operation, in kube's shape. */
function op(action: string, id: string, description: string, tag: string, gvk: Gvk | undefined, parameters: Json[], responses: Json, requestBody?: Json): Json {
  const o: Json = { description, operationId: id, tags: [tag], parameters, responses };
  if (requestBody) o.requestBody = requestBody;
  o['x-kubernetes-action'] = action;
  if (gvk) o['x-kubernetes-group-version-kind'] = { ...gvk };
  return o;
}

/**
 * Builds `paths` for the resources of one group version. `kindSchema` returns
 * (and registers in components) the schema name of a kind, or undefined when
 * client-node has no model for it.
 */
export function buildPaths(
  group: string,
  version: string,
  resources: ResourceDef[],
  kindSchema: (gvk: Gvk) => string | undefined,
  meta: MetaSchemas,
): Record<string, Json> {
  const prefix = group ? `/apis/${group}/${version}` : `/api/${version}`;
  const tag = `${(group.split('.')[0] || 'core').replace(/-/g, '_')}_${version}`;
  const opPrefix = `${cap(group.split('.')[0] || 'core')}${cap(version)}`;
  const statusSchema = ref(meta.status);
  const paths: Record<string, Json> = {};

  for (const r of resources) {
    const gvk: Gvk = { group, kind: r.kind, version };
    const kindRef = ref(kindSchema(gvk) ?? meta.status);
    const listRef = ref(kindSchema({ group, kind: r.listKind, version }) ?? meta.status);
    const ns = r.namespaced ? 'Namespaced' : '';
    const has = (verb: string): boolean => r.verbs.includes(verb);
    const scope = r.namespaced ? [P.namespace] : [];
    const collectionPath = r.namespaced ? `${prefix}/namespaces/{namespace}/${r.plural}` : `${prefix}/${r.plural}`;

    const collection: Json = { parameters: [...scope, P.pretty] };
    if (has('list')) collection.get = op('list', `list${opPrefix}${ns}${r.kind}`, `list or watch objects of kind ${r.kind}`, tag, gvk, LIST_PARAMS, respond({ '200': 'OK' }, listRef));
    if (has('create')) {
      collection.post = op('post', `create${opPrefix}${ns}${r.kind}`, `create a ${r.kind}`, tag, gvk, WRITE_PARAMS,
        respond({ '200': 'OK', '201': 'Created', '202': 'Accepted' }, kindRef), body(kindRef));
    }
    if (has('deletecollection')) {
      collection.delete = op('deletecollection', `deleteCollection${opPrefix}${ns}${r.kind}`, `delete collection of ${r.kind}`, tag, gvk,
        [...LIST_PARAMS.filter((p) => p.name !== 'watch' && p.name !== 'allowWatchBookmarks'), ...DELETE_PARAMS], respond({ '200': 'OK' }, statusSchema), body(ref(meta.deleteOptions)));
    }
    paths[collectionPath] = collection;

    const item: Json = { parameters: [P.name(r.kind), ...scope, P.pretty] };
    if (has('get')) item.get = op('get', `read${opPrefix}${ns}${r.kind}`, `read the specified ${r.kind}`, tag, gvk, [], respond({ '200': 'OK' }, kindRef));
    if (has('update')) {
      item.put = op('put', `replace${opPrefix}${ns}${r.kind}`, `replace the specified ${r.kind}`, tag, gvk, WRITE_PARAMS,
        respond({ '200': 'OK', '201': 'Created' }, kindRef), body(kindRef));
    }
    if (has('patch')) item.patch = patchOp(`patch${opPrefix}${ns}${r.kind}`, `partially update the specified ${r.kind}`, tag, gvk, kindRef, meta);
    if (has('delete')) {
      item.delete = op('delete', `delete${opPrefix}${ns}${r.kind}`, `delete a ${r.kind}`, tag, gvk, DELETE_PARAMS,
        respond({ '200': 'OK', '202': 'Accepted' }, statusSchema), body(ref(meta.deleteOptions)));
    }
    paths[`${collectionPath}/{name}`] = item;

    if (r.namespaced && has('list')) {
      paths[`${prefix}/${r.plural}`] = {
        parameters: [P.pretty],
        get: op('list', `list${opPrefix}${r.kind}ForAllNamespaces`, `list or watch objects of kind ${r.kind}`, tag, gvk, LIST_PARAMS, respond({ '200': 'OK' }, listRef)),
      };
    }

    for (const sub of r.subresources) {
      paths[`${collectionPath}/{name}/${sub.name}`] = subresourcePath(r, sub, { group, version, ns, opPrefix, tag, scope, kindSchema, meta });
    }
  }
  return paths;
}

interface SubCtx {
  group: string;
  version: string;
  ns: string;
  opPrefix: string;
  tag: string;
  scope: Json[];
  kindSchema: (gvk: Gvk) => string | undefined;
  meta: MetaSchemas;
}

/** Operations of one subresource, speaking its own kind (Scale, Binding, Eviction) or the parent's. */
function subresourcePath(r: ResourceDef, sub: SubresourceDef, c: SubCtx): Json {
  const gvk: Gvk = { group: sub.group ?? c.group, kind: sub.kind, version: sub.version ?? c.version };
  const schemaName = c.kindSchema(gvk);
  const kindRef = schemaName ? ref(schemaName) : { type: 'string' };
  const id = (verb: string): string => `${verb}${c.opPrefix}${c.ns}${r.kind}${cap(sub.name)}`;
  const what = `${sub.name} of the specified ${r.kind}`;
  const path: Json = { parameters: [P.name(sub.kind), ...c.scope, P.pretty] };
  // log and exec stream text, not objects.
  const streaming = sub.name === 'log' || sub.name === 'exec';
  const textResponses = respond({ '200': 'OK' }, { type: 'string' }, { 'text/plain': { schema: { type: 'string' } } });

  for (const verb of sub.verbs) {
    switch (verb) {
      case 'get':
        path.get = streaming
          ? op(sub.name === 'exec' ? 'connect' : 'get', id(sub.name === 'exec' ? 'connectGet' : 'read'), `read ${what}`, c.tag, gvk, [], textResponses)
          : op('get', id('read'), `read ${what}`, c.tag, gvk, [], respond({ '200': 'OK' }, kindRef));
        break;
      case 'create':
        path.post = streaming
          ? op('connect', id('connectPost'), `connect POST requests to ${what}`, c.tag, gvk, [], textResponses)
          : op('post', id('create'), `create ${what}`, c.tag, gvk, WRITE_PARAMS, respond({ '200': 'OK', '201': 'Created', '202': 'Accepted' }, kindRef), body(kindRef));
        break;
      case 'update':
        path.put = op('put', id('replace'), `replace ${what}`, c.tag, gvk, WRITE_PARAMS, respond({ '200': 'OK', '201': 'Created' }, kindRef), body(kindRef));
        break;
      case 'patch':
        path.patch = patchOp(id('patch'), `partially update ${what}`, c.tag, gvk, kindRef, c.meta);
        break;
    }
  }
  return path;
}

/** A PATCH operation: the GVK object, `fieldValidation`, and the patch types we accept (no strategic merge). */
function patchOp(id: string, description: string, tag: string, gvk: Gvk, kindRef: Json, meta: MetaSchemas): Json {
  const patchSchema = ref(meta.patch);
  const requestBody: Json = {
    content: {
      'application/apply-patch+yaml': { schema: patchSchema },
      'application/json-patch+json': { schema: patchSchema },
      'application/merge-patch+json': { schema: patchSchema },
    },
    required: true,
  };
  return op('patch', id, description, tag, gvk, [...WRITE_PARAMS, P.force], respond({ '200': 'OK', '201': 'Created' }, kindRef), requestBody);
}
