/**
 * Service validation after ValidateService / ValidateServiceUpdate in
 * pkg/apis/core/validation, for a defaulted v1 Service (type, sessionAffinity, port
 * protocols, internalTrafficPolicy filled). The NodePort range check stands in for the
 * port allocator's, with its message and our range.
 */
import { isIP } from 'node:net';
import type { FieldError } from '../../../common/errors.js';
import {
  Rendered, duplicate, enumField, forbidden, invalid, invalidEach, isDNS1123Label, isDNS1123Subdomain, isObj, isQualifiedName,
  isValidPortNum, list, nameIsDNS1035Label, notSupported, optInt, required, validateLabels, validateObjectMeta, validateObjectMetaUpdate,
  validatePortNumOrName, type Obj,
} from './meta.js';

export const NODE_PORT_RANGE = { min: 30000, max: 32767 };
const MAX_AFFINITY_SECONDS = 86400;
const PROTOCOLS = ['SCTP', 'TCP', 'UDP'];
const IP_MESSAGE = 'must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)';

const isHeadless = (spec: Obj): boolean => spec.clusterIP === 'None' || (list(spec.clusterIPs).length === 1 && spec.clusterIPs[0] === 'None');
const clusterIPsOf = (spec: Obj): string[] => list(spec.clusterIPs).length ? list(spec.clusterIPs) : spec.clusterIP ? [spec.clusterIP] : [];

/** The internal core.ServicePort has no JSON tags, so Go prints its field names. */
function renderServicePort(p: Obj): Rendered {
  return new Rendered(`{"Name":"","Protocol":${JSON.stringify(p.protocol ?? '')},"AppProtocol":null,"Port":${Number(p.port) || 0},"TargetPort":0,"NodePort":0}`);
}

function validatePorts(errs: FieldError[], spec: Obj): void {
  const ports = list(spec.ports);
  const names = new Set<string>();
  const nodePorts = new Set<string>();
  const pairs = new Set<string>();
  ports.forEach((port, i) => {
    const p = `spec.ports[${i}]`;
    const sp = isObj(port) ? port : {};
    if (ports.length > 1 && !sp.name) errs.push(required(`${p}.name`));
    else if (sp.name) {
      errs.push(...invalidEach(`${p}.name`, sp.name, isDNS1123Label(String(sp.name))));
      if (names.has(sp.name)) errs.push(duplicate(`${p}.name`, sp.name));
      else names.add(sp.name);
    }
    const num = optInt(errs, `${p}.port`, sp.port) ?? 0;
    errs.push(...invalidEach(`${p}.port`, num, isValidPortNum(num)));
    enumField(errs, `${p}.protocol`, sp.protocol, PROTOCOLS);
    validatePortNumOrName(errs, `${p}.targetPort`, sp.targetPort);
    if (typeof sp.appProtocol === 'string') errs.push(...invalidEach(`${p}.appProtocol`, sp.appProtocol, isQualifiedName(sp.appProtocol)));
    const nodePort = optInt(errs, `${p}.nodePort`, sp.nodePort);
    if (nodePort) {
      if (spec.type === 'ClusterIP') errs.push(forbidden(`${p}.nodePort`, "may not be used when `type` is 'ClusterIP'"));
      else if (nodePort < NODE_PORT_RANGE.min || nodePort > NODE_PORT_RANGE.max) {
        errs.push(invalid(`${p}.nodePort`, nodePort, `provided port is not in the valid range. The range of valid ports is ${NODE_PORT_RANGE.min}-${NODE_PORT_RANGE.max}`));
      }
      const key = `${sp.protocol}/${nodePort}`;
      if (nodePorts.has(key)) errs.push(duplicate(`${p}.nodePort`, nodePort));
      nodePorts.add(key);
    }
    const pair = `${sp.protocol}/${sp.port}`;
    if (pairs.has(pair)) errs.push(duplicate(p, renderServicePort(sp)));
    pairs.add(pair);
  });
}

/** ValidateServiceClusterIPsRelatedFields, single-stack checks only. */
function validateClusterIPs(errs: FieldError[], spec: Obj): void {
  const ips = list(spec.clusterIPs);
  if (spec.clusterIP) {
    if (!ips.length) errs.push(required('spec.clusterIPs'));
    else if (ips[0] !== spec.clusterIP) errs.push(invalid('spec.clusterIPs', ips, 'first value must match `clusterIP`'));
  } else if (ips.length) {
    errs.push(invalid('spec.clusterIPs', ips, 'must be empty when `clusterIP` is not specified'));
  }
  const seen = new Set<string>();
  list(spec.ipFamilies).forEach((f, i) => {
    if (f !== 'IPv4' && f !== 'IPv6') errs.push(notSupported(`spec.ipFamilies[${i}]`, f, ['IPv4', 'IPv6']));
    if (seen.has(f)) errs.push(duplicate(`spec.ipFamilies[${i}]`, f));
    seen.add(f);
  });
  if (spec.ipFamilyPolicy != null && !['PreferDualStack', 'RequireDualStack', 'SingleStack'].includes(spec.ipFamilyPolicy)) {
    errs.push(notSupported('spec.ipFamilyPolicy', spec.ipFamilyPolicy, ['PreferDualStack', 'RequireDualStack', 'SingleStack']));
  }
  ips.forEach((ip, i) => {
    if (i === 0 && ip === 'None') {
      if (ips.length > 1) errs.push(invalid('spec.clusterIPs', ips, "'None' must be the first and only value"));
    } else if (typeof ip !== 'string' || isIP(ip) === 0) errs.push(invalid(`spec.clusterIPs[${i}]`, ip, IP_MESSAGE));
  });
  if (ips.length > 2) errs.push(invalid('spec.clusterIPs', ips, 'may only hold up to 2 values'));
}

/** A Service on create (and, with the update checks, on update). */
export function validateService(svc: Obj): FieldError[] {
  const errs = validateObjectMeta(svc.metadata, true, nameIsDNS1035Label);
  const spec = isObj(svc.spec) ? svc.spec : {};
  const headless = isHeadless(spec);
  if (list(spec.ports).length === 0 && !headless && spec.type !== 'ExternalName') errs.push(required('spec.ports'));
  if ((spec.type === 'LoadBalancer' || spec.type === 'NodePort') && headless) {
    errs.push(invalid('spec.clusterIPs[0]', 'None', `may not be set to 'None' for ${spec.type} services`));
  }
  if (spec.type === 'ExternalName') {
    if (clusterIPsOf(spec).length) errs.push(forbidden('spec.clusterIPs', 'may not be set for ExternalName services'));
    if (list(spec.ipFamilies).length) errs.push(forbidden('spec.ipFamilies', 'may not be set for ExternalName services'));
    if (spec.ipFamilyPolicy != null) errs.push(forbidden('spec.ipFamilyPolicy', 'may not be set for ExternalName services'));
    // A CNAME may carry a trailing dot to mark it fully qualified.
    const cname = typeof spec.externalName === 'string' ? spec.externalName.replace(/\.$/, '') : '';
    if (cname) errs.push(...invalidEach('spec.externalName', cname, isDNS1123Subdomain(cname)));
    else errs.push(required('spec.externalName'));
  }
  validatePorts(errs, spec);
  if (spec.selector != null) validateLabels(errs, 'spec.selector', spec.selector);
  enumField(errs, 'spec.sessionAffinity', spec.sessionAffinity, ['ClientIP', 'None']);
  const affinity = spec.sessionAffinityConfig;
  if (spec.sessionAffinity === 'ClientIP') {
    const when = 'when session affinity type is ClientIP';
    if (!isObj(affinity)) errs.push(required('spec.sessionAffinityConfig', when));
    else if (!isObj(affinity.clientIP)) errs.push(required('spec.sessionAffinityConfig.clientIP', when));
    else if (affinity.clientIP.timeoutSeconds == null) errs.push(required('spec.sessionAffinityConfig.clientIP.timeoutSeconds', when));
    else {
      const t = affinity.clientIP.timeoutSeconds;
      if (typeof t !== 'number' || t <= 0 || t > MAX_AFFINITY_SECONDS) {
        errs.push(invalid('spec.sessionAffinityConfig.clientIP.timeoutSeconds', t, `must be greater than 0 and less than ${MAX_AFFINITY_SECONDS}`));
      }
    }
  } else if (spec.sessionAffinity === 'None' && affinity != null) {
    errs.push(forbidden('spec.sessionAffinityConfig', 'must not be set when session affinity is None'));
  }
  if (spec.type !== 'ExternalName') validateClusterIPs(errs, spec);
  list(spec.externalIPs).forEach((ip, i) => {
    if (typeof ip !== 'string' || isIP(ip) === 0) errs.push(invalid(`spec.externalIPs[${i}]`, ip, IP_MESSAGE));
  });
  enumField(errs, 'spec.type', spec.type, ['ClusterIP', 'ExternalName', 'LoadBalancer', 'NodePort']);
  if (spec.allocateLoadBalancerNodePorts != null && spec.type !== 'LoadBalancer') {
    errs.push(forbidden('spec.allocateLoadBalancerNodePorts', "may only be used when `type` is 'LoadBalancer'"));
  }
  // Kubernetes reports this one without the `spec.` prefix.
  if (spec.type === 'LoadBalancer' && spec.allocateLoadBalancerNodePorts == null) errs.push(required('allocateLoadBalancerNodePorts'));
  const external = spec.type === 'LoadBalancer' || spec.type === 'NodePort' || (spec.type === 'ClusterIP' && list(spec.externalIPs).length > 0);
  if (!external) {
    if (spec.externalTrafficPolicy) errs.push(invalid('spec.externalTrafficPolicy', spec.externalTrafficPolicy, 'may only be set for externally-accessible services'));
  } else enumField(errs, 'spec.externalTrafficPolicy', spec.externalTrafficPolicy, ['Cluster', 'Local']);
  const itp = spec.internalTrafficPolicy;
  if (itp == null && ['ClusterIP', 'NodePort', 'LoadBalancer'].includes(spec.type)) errs.push(required('spec.internalTrafficPolicy'));
  else if (itp != null && itp !== 'Cluster' && itp !== 'Local') errs.push(notSupported('spec.internalTrafficPolicy', itp, ['Cluster', 'Local']));
  return errs;
}

/**
 * ValidateServiceUpdate: metadata rules, the allocated cluster IPs may not change (the
 * registry must carry them over when a client omits them, as PatchAllocatedValues does),
 * then the new Service validated in full.
 */
export function validateServiceUpdate(svc: Obj, old: Obj): FieldError[] {
  const errs = validateObjectMetaUpdate(svc.metadata, old.metadata);
  const spec = isObj(svc.spec) ? svc.spec : {};
  const oldSpec = isObj(old.spec) ? old.spec : {};
  if (spec.type !== 'ExternalName' && oldSpec.type !== 'ExternalName' && !(isHeadless(spec) && isHeadless(oldSpec))) {
    const now = clusterIPsOf(spec);
    const before = clusterIPsOf(oldSpec);
    // Go prints an empty []string as null.
    const shown = now.length ? now : null;
    if (now.length === before.length) {
      before.forEach((ip, i) => ip !== now[i] && errs.push(invalid(`spec.clusterIPs[${i}]`, shown, 'may not change once set')));
    } else if (before.length > now.length) {
      if (!now.length) errs.push(invalid('spec.clusterIPs[0]', shown, 'primary clusterIP can not be unset'));
      else if (now[0] !== before[0]) errs.push(invalid('spec.clusterIPs[0]', shown, 'may not change once set'));
      if (now.length === 1 && spec.ipFamilyPolicy !== 'SingleStack') {
        errs.push(invalid('spec.ipFamilyPolicy', spec.ipFamilyPolicy ?? null, "must be set to 'SingleStack' when releasing the secondary clusterIP"));
      }
    } else if (before.length && now[0] !== before[0]) {
      errs.push(invalid('spec.clusterIPs[0]', shown, 'may not change once set'));
    }
  }
  errs.push(...validateService(svc));
  return errs;
}
