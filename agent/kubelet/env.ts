/**
 * A container's environment, as the kubelet's makeEnvironmentVariables builds it:
 *
 *  1. `envFrom` sources in order (configMapRef / secretRef, each with an optional
 *     `prefix`); keys that are not valid variable names are skipped and reported.
 *  2. `env` in order: `value` with `$(VAR)` expanded against what is defined so far
 *     (and the service variables), or `valueFrom` (fieldRef, resourceFieldRef,
 *     configMapKeyRef, secretKeyRef). A later definition replaces an earlier one in place.
 *  3. Service variables (`serviceEnv`, e.g. `KUBERNETES_SERVICE_HOST`) that are not
 *     already defined.
 *
 * A missing ConfigMap, Secret or key that is not `optional` fails the container with
 * reason `CreateContainerConfigError` and the kubelet's message. Secret data is base64
 * on the wire and decoded here.
 */
import { containerResourceValue, podFieldValue, resourceFieldContainer, type Allocatable, type Obj } from './fieldpath.js';

export type { Obj };

export interface EnvVar {
  name: string;
  value: string;
}

export interface EnvContext {
  /** The object, or undefined when it does not exist (other errors are thrown). */
  getConfigMap(namespace: string, name: string): Promise<Obj | undefined>;
  getSecret(namespace: string, name: string): Promise<Obj | undefined>;
  podIP?: string;
  podIPs?: string[];
  hostIP?: string;
  hostIPs?: string[];
  nodeName: string;
  /** Service link variables (and the `kubernetes` service's), lowest precedence. */
  serviceEnv?: EnvVar[];
  /** Node allocatable: the value of limits.* for a container without that limit. */
  allocatable?: Allocatable;
}

export interface ResolvedEnv {
  env: EnvVar[];
  /** Warning events to record on the pod (reason InvalidEnvironmentVariableNames). */
  events: { reason: string; message: string }[];
}

/** Why a container cannot be created from its spec; `reason` becomes the waiting reason. */
export class ContainerConfigError extends Error {
  readonly reason = 'CreateContainerConfigError';
  readonly code = 'CreateContainerConfigError';
  constructor(message: string) {
    super(message);
    this.name = 'ContainerConfigError';
  }
}

const ENV_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;

/** validation.IsEnvVarName. */
export function isEnvVarName(s: string): boolean {
  return ENV_NAME.test(s);
}

/**
 * Kubernetes' `$(VAR)` expansion (third_party/forked/golang/expansion): `$(NAME)` is
 * replaced by `lookup(NAME)` when defined and kept verbatim otherwise, `$$` is a literal
 * `$`, and a `$` followed by anything else is kept with that character.
 */
export function expand(input: string, lookup: (name: string) => string | undefined): string {
  let out = '';
  let checkpoint = 0;
  for (let cursor = 0; cursor < input.length; cursor++) {
    if (input[cursor] !== '$' || cursor + 1 >= input.length) continue;
    out += input.slice(checkpoint, cursor);
    const rest = input.slice(cursor + 1);
    let advance = 1;
    if (rest[0] === '$') out += '$';
    else if (rest[0] === '(') {
      const close = rest.indexOf(')', 1);
      if (close < 0) out += '$(';
      else {
        const name = rest.slice(1, close);
        out += lookup(name) ?? `$(${name})`;
        advance = close + 1;
      }
    } else out += `$${rest[0]}`;
    cursor += advance;
    checkpoint = cursor + 1;
  }
  return out + input.slice(checkpoint);
}

function lookupIn(...maps: Map<string, string>[]): (name: string) => string | undefined {
  return (name) => {
    for (const m of maps) if (m.has(name)) return m.get(name);
    return undefined;
  };
}

/** `command` / `args` with `$(VAR)` expanded against the container's resolved env. */
export function expandCommand(args: string[] | undefined, env: EnvVar[]): string[] | undefined {
  if (!args) return args;
  const m = new Map(env.map((e) => [e.name, e.value]));
  return args.map((a) => expand(a, lookupIn(m)));
}

/** Expansion against the container's literal `env` values only, as exec probes do (ExpandContainerCommandOnlyStatic). */
export function expandCommandOnlyStatic(args: string[], container: Obj): string[] {
  const m = new Map<string, string>();
  for (const e of (container.env ?? []) as Obj[]) if (e.value !== undefined && !e.valueFrom) m.set(e.name, String(e.value));
  return args.map((a) => expand(a, lookupIn(m)));
}

/** Decodes a Secret's `data` (base64) merged with `stringData` if a caller kept it. */
export function secretData(secret: Obj): Record<string, Buffer> {
  const out: Record<string, Buffer> = {};
  for (const [k, v] of Object.entries((secret.data ?? {}) as Record<string, string>)) out[k] = Buffer.from(v, 'base64');
  for (const [k, v] of Object.entries((secret.stringData ?? {}) as Record<string, string>)) out[k] = Buffer.from(v, 'utf8');
  return out;
}

/** Caches each ConfigMap/Secret for one resolution, so many refs cost one read. */
class Sources {
  private cms = new Map<string, Obj | undefined>();
  private secrets = new Map<string, Obj | undefined>();
  constructor(
    private readonly ns: string,
    private readonly ctx: EnvContext,
  ) {}

  async configMap(name: string): Promise<Obj | undefined> {
    if (!this.cms.has(name)) this.cms.set(name, await this.ctx.getConfigMap(this.ns, name));
    return this.cms.get(name);
  }

  async secret(name: string): Promise<Obj | undefined> {
    if (!this.secrets.has(name)) this.secrets.set(name, await this.ctx.getSecret(this.ns, name));
    return this.secrets.get(name);
  }
}

async function addEnvFrom(pod: Obj, container: Obj, src: Sources, vars: Map<string, string>, events: ResolvedEnv['events']): Promise<void> {
  const ns: string = pod.metadata?.namespace ?? 'default';
  for (const from of (container.envFrom ?? []) as Obj[]) {
    const prefix: string = from.prefix ?? '';
    let data: Record<string, string>;
    let what: string;
    if (from.configMapRef) {
      const ref = from.configMapRef;
      const cm = await src.configMap(ref.name);
      if (!cm) {
        if (ref.optional === true) continue;
        throw new ContainerConfigError(`configmap "${ref.name}" not found`);
      }
      data = { ...(cm.data ?? {}) };
      what = `configMap ${ns}/${ref.name}`;
    } else if (from.secretRef) {
      const ref = from.secretRef;
      const secret = await src.secret(ref.name);
      if (!secret) {
        if (ref.optional === true) continue;
        throw new ContainerConfigError(`secret "${ref.name}" not found`);
      }
      data = Object.fromEntries(Object.entries(secretData(secret)).map(([k, v]) => [k, v.toString('utf8')]));
      what = `secret ${ns}/${ref.name}`;
    } else continue;
    const invalid: string[] = [];
    // Go iterates maps in random order; sorted keys make our order stable.
    for (const key of Object.keys(data).sort()) {
      const name = prefix + key;
      if (!isEnvVarName(name)) {
        invalid.push(name);
        continue;
      }
      vars.set(name, String(data[key]));
    }
    if (invalid.length) {
      events.push({
        reason: 'InvalidEnvironmentVariableNames',
        message: `Keys [${invalid.join(', ')}] from the EnvFrom ${what} were skipped since they are considered invalid environment variable names.`,
      });
    }
  }
}

/** One `valueFrom`; undefined means "optional and missing: define nothing". */
async function valueFrom(pod: Obj, container: Obj, from: Obj, src: Sources, ctx: EnvContext): Promise<string | undefined> {
  const ns: string = pod.metadata?.namespace ?? 'default';
  try {
    if (from.fieldRef) {
      // The pod object may predate binding or IP assignment: the kubelet's own values win.
      const p = { ...pod, spec: { ...pod.spec, nodeName: pod.spec?.nodeName || ctx.nodeName } };
      return podFieldValue(p, from.fieldRef.fieldPath, ctx);
    }
    if (from.resourceFieldRef) {
      const c = resourceFieldContainer(pod, from.resourceFieldRef, container);
      return containerResourceValue(from.resourceFieldRef, c, ctx.allocatable);
    }
  } catch (e) {
    throw new ContainerConfigError((e as Error).message);
  }
  if (from.configMapKeyRef) {
    const { name, key, optional } = from.configMapKeyRef;
    const cm = await src.configMap(name);
    if (!cm) {
      if (optional === true) return undefined;
      throw new ContainerConfigError(`configmap "${name}" not found`);
    }
    if (cm.data?.[key] === undefined) {
      if (optional === true) return undefined;
      throw new ContainerConfigError(`couldn't find key ${key} in ConfigMap ${ns}/${name}`);
    }
    return String(cm.data[key]);
  }
  if (from.secretKeyRef) {
    const { name, key, optional } = from.secretKeyRef;
    const secret = await src.secret(name);
    if (!secret) {
      if (optional === true) return undefined;
      throw new ContainerConfigError(`secret "${name}" not found`);
    }
    const data = secretData(secret);
    if (data[key] === undefined) {
      if (optional === true) return undefined;
      throw new ContainerConfigError(`couldn't find key ${key} in Secret ${ns}/${name}`);
    }
    return data[key].toString('utf8');
  }
  throw new ContainerConfigError(`env var has an empty valueFrom`);
}

/**
 * The environment of `container` in `pod`. Rejects with ContainerConfigError when a
 * required source is missing; errors from `ctx.get*` other than "not found" (reported
 * as undefined) propagate unchanged so the caller can retry.
 */
export async function resolveEnv(pod: Obj, container: Obj, ctx: EnvContext): Promise<ResolvedEnv> {
  const src = new Sources(pod.metadata?.namespace ?? 'default', ctx);
  const vars = new Map<string, string>();
  const events: ResolvedEnv['events'] = [];
  const service = new Map((ctx.serviceEnv ?? []).map((e) => [e.name, e.value]));
  await addEnvFrom(pod, container, src, vars, events);
  for (const e of (container.env ?? []) as Obj[]) {
    let v: string | undefined;
    if (e.valueFrom) {
      v = await valueFrom(pod, container, e.valueFrom, src, ctx);
      if (v === undefined) continue;
    } else {
      // Only literal values are expanded; envFrom and valueFrom values are used as is.
      v = expand(String(e.value ?? ''), lookupIn(vars, service));
    }
    vars.set(e.name, v);
  }
  for (const [k, v] of service) if (!vars.has(k)) vars.set(k, v);
  return { env: [...vars].map(([name, value]) => ({ name, value })), events };
}
