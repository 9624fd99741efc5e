/**
 * The smaller kinds: ConfigMap, Secret, Namespace, Node, Event, ServiceAccount (core),
 * Lease (coordination.k8s.io), Endpoints (core) and EndpointSlice (discovery.k8s.io),
 * after their validators in pkg/apis/{core,coordination,discovery}/validation.
 */
import { isIP } from 'node:net';
import type { FieldError } from '../../../common/errors.js';
import {
  duplicate, entries, enumField, forbidden, invalid, invalidEach, isDNS1123Label, isDNS1123Subdomain, isLabelValue, isObj,
  isQualifiedName, isValidPortNum, jsonEqual, list, nameIsDNSLabel, nameIsDNSSubdomain, nonNegative, notSupported, optInt, required, tooLong,
  typeInvalid, validateObjectMeta, validateObjectMetaUpdate, type Obj,
} from './meta.js';
import { validateQuantityValue } from './pod.js';

/** core.MaxSecretSize, the cap for ConfigMaps too. */
export const MAX_DATA_BYTES = 1024 * 1024;
const PROTOCOLS = ['SCTP', 'TCP', 'UDP'];
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** IsConfigMapKey: the keys of ConfigMap and Secret data. */
export function isConfigMapKey(v: string): string[] {
  const out: string[] = [];
  if (v.length > 253) out.push('must be no more than 253 characters');
  if (!/^[-._a-zA-Z0-9]+$/.test(v)) {
    out.push("a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')");
  }
  if (v === '.') out.push("must not be '.'");
  else if (v === '..') out.push("must not be '..'");
  else if (v.startsWith('..')) out.push("must not start with '..'");
  return out;
}

/** Decoded size of base64 data, or the message Go's decoder gives for bad input. */
function base64Size(v: unknown): number | string {
  if (typeof v !== 'string') return 'must be a base64-encoded string';
  // encoding/json's []byte decoding is StdEncoding, which skips line breaks.
  const s = v.replace(/[\r\n]/g, '');
  if (!BASE64.test(s)) {
    const bad = s.search(/[^A-Za-z0-9+/=]/);
    return `illegal base64 data at input byte ${bad >= 0 ? bad : s.length - (s.length % 4 || 4)}`;
  }
  return Buffer.from(s, 'base64').length;
}

export function validateConfigMap(cm: Obj): FieldError[] {
  const errs = validateObjectMeta(cm.metadata, true, nameIsDNSSubdomain);
  let size = 0;
  for (const [k, v] of entries(cm.data)) {
    errs.push(...invalidEach(`data[${k}]`, k, isConfigMapKey(k)));
    if (isObj(cm.binaryData) && k in cm.binaryData) errs.push(invalid(`data[${k}]`, k, 'duplicate of key present in binaryData'));
    if (typeof v !== 'string') errs.push(typeInvalid(`data[${k}]`, v, 'string'));
    else size += Buffer.byteLength(v);
  }
  for (const [k, v] of entries(cm.binaryData)) {
    errs.push(...invalidEach(`binaryData[${k}]`, k, isConfigMapKey(k)));
    const n = base64Size(v);
    if (typeof n === 'string') errs.push(invalid(`binaryData[${k}]`, '<binary data redacted>', n));
    else size += n;
  }
  // The empty path: the error is about the whole object.
  if (size > MAX_DATA_BYTES) errs.push(tooLong('', MAX_DATA_BYTES));
  return errs;
}

/** Immutable ConfigMaps and Secrets: `immutable` stays true and the data stays as it was. */
function immutableData(errs: FieldError[], obj: Obj, old: Obj, fields: string[]): void {
  if (old.immutable !== true) return;
  if (obj.immutable !== true) errs.push(forbidden('immutable', 'field is immutable when `immutable` is set'));
  for (const f of fields) if (!jsonEqual(obj[f] ?? {}, old[f] ?? {})) errs.push(forbidden(f, 'field is immutable when `immutable` is set'));
}

export function validateConfigMapUpdate(cm: Obj, old: Obj): FieldError[] {
  const errs = validateObjectMetaUpdate(cm.metadata, old.metadata);
  immutableData(errs, cm, old, ['data', 'binaryData']);
  return [...errs, ...validateConfigMap(cm)];
}

export function validateSecret(s: Obj): FieldError[] {
  const errs = validateObjectMeta(s.metadata, true, nameIsDNSSubdomain);
  const data: Obj = isObj(s.data) ? s.data : {};
  let size = 0;
  for (const [k, v] of entries(data)) {
    errs.push(...invalidEach(`data[${k}]`, k, isConfigMapKey(k)));
    const n = base64Size(v);
    if (typeof n === 'string') errs.push(invalid(`data[${k}]`, '<secret contents redacted>', n));
    else size += n;
  }
  if (size > MAX_DATA_BYTES) errs.push(tooLong('data', MAX_DATA_BYTES));
  const need = (...keys: string[]): void => keys.forEach((k) => !(k in data) && errs.push(required(`data[${k}]`)));
  const json = (key: string): void => {
    if (!(key in data)) return need(key);
    try {
      JSON.parse(Buffer.from(String(data[key]), 'base64').toString('utf8'));
    } catch (e) {
      errs.push(invalid(`data[${key}]`, '<secret contents redacted>', (e as Error).message));
    }
  };
  switch (s.type) {
    case 'kubernetes.io/service-account-token':
      if (!s.metadata?.annotations?.['kubernetes.io/service-account.name']) errs.push(required('metadata.annotations[kubernetes.io/service-account.name]'));
      break;
    case 'kubernetes.io/dockercfg':
      json('.dockercfg');
      break;
    case 'kubernetes.io/dockerconfigjson':
      json('.dockerconfigjson');
      break;
    case 'kubernetes.io/basic-auth':
      if (!('username' in data) && !('password' in data)) need('username', 'password');
      break;
    case 'kubernetes.io/ssh-auth':
      if (!data['ssh-privatekey']) need('ssh-privatekey');
      break;
    case 'kubernetes.io/tls':
      need('tls.crt', 'tls.key');
      break;
  }
  return errs;
}

export function validateSecretUpdate(s: Obj, old: Obj): FieldError[] {
  const errs = validateObjectMetaUpdate(s.metadata, old.metadata);
  if ((s.type ?? '') !== (old.type ?? '')) errs.push(invalid('type', s.type ?? '', 'field is immutable'));
  immutableData(errs, s, old, ['data']);
  return [...errs, ...validateSecret(s)];
}

function finalizerErrors(errs: FieldError[], field: string, finalizers: unknown): void {
  for (const f of list(finalizers).map(String)) {
    errs.push(...invalidEach(field, f, isQualifiedName(f)));
    if (!f.includes('/') && !['kubernetes', 'orphan', 'foregroundDeletion'].includes(f)) {
      errs.push(invalid(field, f, 'name is neither a standard finalizer name nor is it fully qualified'));
    }
  }
}

export function validateNamespace(ns: Obj): FieldError[] {
  const errs = validateObjectMeta(ns.metadata, false, nameIsDNSLabel);
  finalizerErrors(errs, 'spec.finalizers', ns.spec?.finalizers);
  return errs;
}

function isCIDR(v: unknown): boolean {
  if (typeof v !== 'string') return false;
  const [ip, bits, extra] = v.split('/');
  const family = isIP(ip ?? '');
  return family !== 0 && extra === undefined && /^[0-9]+$/.test(bits ?? '') && Number(bits) <= (family === 4 ? 32 : 128);
}

export function validateNode(node: Obj): FieldError[] {
  const errs = validateObjectMeta(node.metadata, false, nameIsDNSSubdomain);
  const seen = new Set<string>();
  list(node.spec?.taints).forEach((t, i) => {
    // Kubernetes reports taints under `metadata`, a long-standing quirk kept for parity.
    const p = `metadata.taints[${i}]`;
    const taint = isObj(t) ? t : {};
    errs.push(...invalidEach(`${p}.key`, taint.key ?? '', isQualifiedName(String(taint.key ?? ''))));
    const msgs = isLabelValue(String(taint.value ?? ''));
    if (msgs.length) errs.push(invalid(`${p}.value`, taint.value, msgs.join(';')));
    enumField(errs, `${p}.effect`, taint.effect, ['NoSchedule', 'PreferNoSchedule', 'NoExecute']);
    const key = `${taint.effect}\u0000${taint.key}`;
    if (seen.has(key)) errs.push({ ...duplicate(p, taint), message: `${duplicate(p, taint).message}: taints must be unique by key and effect pair` });
    seen.add(key);
  });
  if (node.spec?.podCIDR && !isCIDR(node.spec.podCIDR)) errs.push(invalid('spec.podCIDR', node.spec.podCIDR, 'must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)'));
  list(node.spec?.podCIDRs).forEach((c, i) => {
    if (!isCIDR(c)) errs.push(invalid(`spec.podCIDRs[${i}]`, c, 'must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)'));
  });
  for (const part of ['capacity', 'allocatable']) {
    for (const [k, v] of entries(node.status?.[part])) validateQuantityValue(errs, `status.${part}.${k}`, k, v);
  }
  return errs;
}

export function validateNodeUpdate(node: Obj, old: Obj): FieldError[] {
  const errs = validateObjectMetaUpdate(node.metadata, old.metadata);
  // The control plane may assign a pod CIDR once; after that it is fixed.
  const cidrs = (n: Obj): unknown => (list(n.spec?.podCIDRs).length ? n.spec.podCIDRs : n.spec?.podCIDR ? [n.spec.podCIDR] : []);
  if (list(cidrs(old)).length && !jsonEqual(cidrs(node), cidrs(old))) {
    errs.push(forbidden('spec.podCIDRs', 'node updates may not change podCIDR except from "" to valid'));
  }
  if (old.spec?.providerID && old.spec.providerID !== node.spec?.providerID) {
    errs.push(forbidden('spec.providerID', 'node updates may not change providerID except from "" to valid'));
  }
  return [...errs, ...validateNode(node)];
}

/**
 * Core v1 Events get the legacy checks: the involved object's namespace matches the
 * event's, and "new-style" events (with eventTime) name their reporter and action.
 */
export function validateEvent(ev: Obj): FieldError[] {
  const errs = validateObjectMeta(ev.metadata, true, nameIsDNSSubdomain);
  const io = ev.involvedObject;
  if (!isObj(io)) return [...errs, required('involvedObject')];
  const ns = ev.metadata?.namespace ?? '';
  if (!ev.eventTime) {
    if (!io.namespace ? ns !== '' && ns !== 'default' : ns !== io.namespace) errs.push(invalid('involvedObject.namespace', io.namespace ?? '', 'does not match event.namespace'));
  } else {
    if (!io.namespace && ns !== 'default' && ns !== 'kube-system') errs.push(invalid('involvedObject.namespace', '', 'does not match event.namespace'));
    for (const f of ['reportingController', 'reportingInstance', 'action', 'reason']) if (!ev[f]) errs.push(required(f));
  }
  if (ev.type !== undefined && ev.type !== 'Normal' && ev.type !== 'Warning') errs.push(notSupported('type', ev.type, ['Normal', 'Warning']));
  return errs;
}

export function validateLease(lease: Obj): FieldError[] {
  const errs = validateObjectMeta(lease.metadata, true, nameIsDNSSubdomain);
  const spec = isObj(lease.spec) ? lease.spec : {};
  const d = optInt(errs, 'spec.leaseDurationSeconds', spec.leaseDurationSeconds);
  if (d !== undefined && d <= 0) errs.push(invalid('spec.leaseDurationSeconds', d, 'must be greater than 0'));
  nonNegative(errs, 'spec.leaseTransitions', spec.leaseTransitions);
  if (spec.preferredHolder && !spec.strategy) errs.push(forbidden('spec.preferredHolder', 'may only be specified if `strategy` is defined'));
  return errs;
}

/** An endpoint address: a routable IP, not loopback, link-local or unspecified. */
function validateEndpointIP(errs: FieldError[], field: string, ip: unknown): void {
  const family = typeof ip === 'string' ? isIP(ip) : 0;
  if (!family) return void errs.push(invalid(field, ip ?? '', 'must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)'));
  const s = String(ip).toLowerCase();
  if (s === '0.0.0.0' || s === '::') errs.push(invalid(field, ip, `may not be unspecified (${ip})`));
  if (s.startsWith('127.') || s === '::1') errs.push(invalid(field, ip, 'may not be in the loopback range (127.0.0.0/8, ::1/128)'));
  if (s.startsWith('169.254.') || /^fe[89ab]/.test(s)) errs.push(invalid(field, ip, 'may not be in the link-local range (169.254.0.0/16, fe80::/10)'));
  if (s.startsWith('224.0.0.') || s.startsWith('ff02:')) errs.push(invalid(field, ip, 'may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)'));
}

function validatePortEntry(errs: FieldError[], p: string, port: Obj, requireName: boolean): void {
  if (requireName && !port.name) errs.push(required(`${p}.name`));
  else if (port.name) errs.push(...invalidEach(`${p}.name`, port.name, isDNS1123Label(String(port.name))));
  const n = optInt(errs, `${p}.port`, port.port);
  if (n !== undefined || port.port === undefined) errs.push(...invalidEach(`${p}.port`, n ?? 0, isValidPortNum(n ?? 0)));
  enumField(errs, `${p}.protocol`, port.protocol, PROTOCOLS);
  if (typeof port.appProtocol === 'string') errs.push(...invalidEach(`${p}.appProtocol`, port.appProtocol, isQualifiedName(port.appProtocol)));
}

export function validateEndpoints(ep: Obj): FieldError[] {
  const errs = validateObjectMeta(ep.metadata, true, nameIsDNSSubdomain);
  list(ep.subsets).forEach((ss, i) => {
    const p = `subsets[${i}]`;
    const subset = isObj(ss) ? ss : {};
    if (!list(subset.addresses).length && !list(subset.notReadyAddresses).length) errs.push(required(p, 'must specify `addresses` or `notReadyAddresses`'));
    for (const kind of ['addresses', 'notReadyAddresses']) {
      list(subset[kind]).forEach((a, j) => {
        const ap = `${p}.${kind}[${j}]`;
        const addr = isObj(a) ? a : {};
        validateEndpointIP(errs, `${ap}.ip`, addr.ip);
        if (addr.hostname) errs.push(...invalidEach(`${ap}.hostname`, addr.hostname, isDNS1123Label(String(addr.hostname))));
        if (addr.nodeName) errs.push(...invalidEach(`${ap}.nodeName`, addr.nodeName, isDNS1123Subdomain(String(addr.nodeName))));
      });
    }
    const ports = list(subset.ports);
    ports.forEach((port, j) => validatePortEntry(errs, `${p}.ports[${j}]`, isObj(port) ? port : {}, ports.length > 1));
  });
  return errs;
}

const ADDRESS_TYPES = ['FQDN', 'IPv4', 'IPv6'];

export function validateEndpointSlice(es: Obj): FieldError[] {
  const errs = validateObjectMeta(es.metadata, true, nameIsDNSSubdomain);
  enumField(errs, 'addressType', es.addressType, ADDRESS_TYPES);
  list(es.endpoints).forEach((e, i) => {
    const p = `endpoints[${i}]`;
    const ep = isObj(e) ? e : {};
    const addresses = list(ep.addresses);
    if (!addresses.length) errs.push(required(`${p}.addresses`, 'must contain at least 1 address'));
    else if (addresses.length > 100) errs.push({ reason: 'FieldValueTooMany', field: `${p}.addresses`, message: `Too many: ${addresses.length}: must have at most 100 items` });
    addresses.forEach((a, j) => {
      const ap = `${p}.addresses[${j}]`;
      const family = typeof a === 'string' ? isIP(a) : 0;
      if (es.addressType === 'IPv4' && family !== 4) errs.push(invalid(ap, a, 'must be a valid IPv4 address'));
      if (es.addressType === 'IPv6' && family !== 6) errs.push(invalid(ap, a, 'must be a valid IPv6 address'));
      if (es.addressType === 'FQDN') {
        const name = String(a).replace(/\.$/, '');
        const msgs = isDNS1123Subdomain(name);
        if (msgs.length) errs.push(invalid(ap, name, msgs.join(',')));
        else if (name.split('.').length < 2) errs.push(invalid(ap, name, 'should be a domain with at least two segments separated by dots'));
      }
    });
    if (ep.hostname) errs.push(...invalidEach(`${p}.hostname`, ep.hostname, isDNS1123Label(String(ep.hostname))));
    if (ep.nodeName) errs.push(...invalidEach(`${p}.nodeName`, ep.nodeName, isDNS1123Subdomain(String(ep.nodeName))));
  });
  const names = new Set<string>();
  list(es.ports).forEach((port, i) => {
    const p = `ports[${i}]`;
    const sp = isObj(port) ? port : {};
    if (sp.name) {
      errs.push(...invalidEach(`${p}.name`, sp.name, isDNS1123Label(String(sp.name))));
      if (names.has(sp.name)) errs.push(duplicate(`${p}.name`, sp.name));
      names.add(sp.name);
    }
    enumField(errs, `${p}.protocol`, sp.protocol, PROTOCOLS);
    const n = optInt(errs, `${p}.port`, sp.port);
    if (n !== undefined) errs.push(...invalidEach(`${p}.port`, n, isValidPortNum(n)));
    if (typeof sp.appProtocol === 'string') errs.push(...invalidEach(`${p}.appProtocol`, sp.appProtocol, isQualifiedName(sp.appProtocol)));
  });
  return errs;
}

export function validateEndpointSliceUpdate(es: Obj, old: Obj): FieldError[] {
  const errs = validateObjectMetaUpdate(es.metadata, old.metadata);
  if (es.addressType !== old.addressType) errs.push(invalid('addressType', es.addressType ?? '', 'field is immutable'));
  return [...errs, ...validateEndpointSlice(es)];
}
