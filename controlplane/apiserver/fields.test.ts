import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { StatusError } from '../../common/errors.js';
import { exactName, fieldSelectorToString, matchesFields, parseFieldSelector } from './fields.js';

function error(fn: () => unknown): StatusError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof StatusError, String(e));
    return e;
  }
  assert.fail('expected an error');
}

const pod = (over: Record<string, unknown> = {}) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'web-1', namespace: 'default' },
  spec: { nodeName: 'n1', restartPolicy: 'Always', schedulerName: 'default-scheduler', serviceAccountName: 'default' },
  status: { phase: 'Running', podIP: '10.0.0.5' },
  ...over,
});

describe('parseFieldSelector', () => {
  it('parses =, == and != terms joined by commas', () => {
    assert.deepEqual(parseFieldSelector('spec.nodeName=n1,status.phase!=Failed,metadata.name==x', 'pods'), [
      { field: 'spec.nodeName', operator: '=', value: 'n1' },
      { field: 'status.phase', operator: '!=', value: 'Failed' },
      { field: 'metadata.name', operator: '=', value: 'x' },
    ]);
    assert.deepEqual(parseFieldSelector('', 'pods'), []);
    assert.deepEqual(parseFieldSelector('metadata.name=', 'pods'), [{ field: 'metadata.name', operator: '=', value: '' }]);
  });

  it('unescapes \\, \\= and \\\\ in values', () => {
    assert.deepEqual(parseFieldSelector('metadata.name=a\\,b\\=c\\\\d,metadata.namespace=ns', 'configmaps'), [
      { field: 'metadata.name', operator: '=', value: 'a,b=c\\d' },
      { field: 'metadata.namespace', operator: '=', value: 'ns' },
    ]);
  });

  it('rejects bad escapes, bare = in values and terms without an operator', () => {
    assert.match(error(() => parseFieldSelector('metadata.name=a\\b', 'pods')).message, /invalid escape sequence: \\b/);
    assert.match(error(() => parseFieldSelector('metadata.name=a\\', 'pods')).message, /invalid escape sequence/);
    assert.match(error(() => parseFieldSelector('metadata.name=a=b', 'pods')).message, /unescaped character in value: =/);
    const e = error(() => parseFieldSelector('metadata.name', 'pods'));
    assert.equal(e.code, 400);
    assert.equal(e.message, "invalid selector: 'metadata.name'; can't understand 'metadata.name'");
  });

  it('400 field label not supported for fields the resource does not have', () => {
    const e = error(() => parseFieldSelector('spec.nodeName=n1', 'services'));
    assert.equal(e.code, 400);
    assert.equal(e.reason, 'BadRequest');
    assert.equal(e.message, 'field label not supported: spec.nodeName');
    assert.equal(error(() => parseFieldSelector('spec.containers=x', 'pods')).message, 'field label not supported: spec.containers');
    assert.equal(error(() => parseFieldSelector('type=Opaque', 'configmaps')).message, 'field label not supported: type');
  });

  it('knows each resource’s extra fields', () => {
    const ok: [string, string][] = [
      ['events', 'involvedObject.kind=Pod,involvedObject.name=x,involvedObject.namespace=d,involvedObject.uid=u'],
      ['events', 'involvedObject.apiVersion=v1,involvedObject.resourceVersion=1,involvedObject.fieldPath=spec'],
      ['events', 'reason=Started,reportingComponent=kubelet,source=kubelet,type=Normal'],
      ['secrets', 'type=kubernetes.io/tls'],
      ['nodes', 'spec.unschedulable=false'],
      ['namespaces', 'status.phase=Active'],
      ['replicasets', 'status.replicas=0'],
      ['pods', 'spec.hostNetwork=true,status.podIP=1.2.3.4,status.nominatedNodeName=n,spec.schedulerName=s'],
    ];
    for (const [plural, s] of ok) assert.doesNotThrow(() => parseFieldSelector(s, plural), `${plural}: ${s}`);
  });
});

describe('matchesFields on pods', () => {
  const sel = (s: string) => parseFieldSelector(s, 'pods');
  it('matches equality and inequality', () => {
    assert.equal(matchesFields(sel('spec.nodeName=n1'), 'pods', pod()), true);
    assert.equal(matchesFields(sel('spec.nodeName=n2'), 'pods', pod()), false);
    assert.equal(matchesFields(sel('status.phase!=Succeeded,status.phase!=Failed'), 'pods', pod()), true);
    assert.equal(matchesFields(sel('status.phase!=Running'), 'pods', pod()), false);
    assert.equal(matchesFields(sel('metadata.namespace=default,metadata.name=web-1'), 'pods', pod()), true);
    assert.equal(matchesFields([], 'pods', pod()), true);
  });

  it('reads missing values as the empty string (unscheduled pods)', () => {
    const unscheduled = pod({ spec: { restartPolicy: 'Always' }, status: { phase: 'Pending' } });
    assert.equal(matchesFields(sel('spec.nodeName='), 'pods', unscheduled), true);
    assert.equal(matchesFields(sel('spec.nodeName!='), 'pods', unscheduled), false);
    assert.equal(matchesFields(sel('spec.nodeName!='), 'pods', pod()), true);
    assert.equal(matchesFields(sel('status.podIP='), 'pods', pod({ status: undefined })), true);
  });

  it('renders spec.hostNetwork as Go does: absent is false', () => {
    assert.equal(matchesFields(sel('spec.hostNetwork=false'), 'pods', pod()), true);
    assert.equal(matchesFields(sel('spec.hostNetwork=true'), 'pods', pod()), false);
    const host = pod({ spec: { nodeName: 'n1', hostNetwork: true } });
    assert.equal(matchesFields(sel('spec.hostNetwork=true'), 'pods', host), true);
  });
});

describe('matchesFields on other resources', () => {
  it('events by involved object (kubectl describe), also in events.k8s.io shape', () => {
    const ev = { involvedObject: { kind: 'Pod', name: 'web-1', namespace: 'default', uid: 'u1' }, reason: 'Started', type: 'Normal', source: { component: 'kubelet' } };
    const s = parseFieldSelector('involvedObject.name=web-1,involvedObject.namespace=default,involvedObject.kind=Pod,involvedObject.uid=u1', 'events');
    assert.equal(matchesFields(s, 'events', ev), true);
    assert.equal(matchesFields(s, 'events', { ...ev, involvedObject: { ...ev.involvedObject, uid: 'u2' } }), false);
    assert.equal(matchesFields(parseFieldSelector('source=kubelet,type=Normal', 'events'), 'events', ev), true);
    const v1 = { regarding: { kind: 'Pod', name: 'web-1' }, reportingController: 'kubelet' };
    assert.equal(matchesFields(parseFieldSelector('involvedObject.name=web-1,reportingComponent=kubelet', 'events'), 'events', v1), true);
  });

  it('nodes, secrets, namespaces and replicasets', () => {
    assert.equal(matchesFields(parseFieldSelector('spec.unschedulable=false', 'nodes'), 'nodes', { spec: {} }), true);
    assert.equal(matchesFields(parseFieldSelector('spec.unschedulable=true', 'nodes'), 'nodes', { spec: { unschedulable: true } }), true);
    assert.equal(matchesFields(parseFieldSelector('type=Opaque', 'secrets'), 'secrets', { type: 'Opaque' }), true);
    assert.equal(matchesFields(parseFieldSelector('status.phase=Terminating', 'namespaces'), 'namespaces', { status: { phase: 'Active' } }), false);
    assert.equal(matchesFields(parseFieldSelector('status.replicas=0', 'replicasets'), 'replicasets', { status: {} }), true);
    assert.equal(matchesFields(parseFieldSelector('status.replicas!=0', 'replicasets'), 'replicasets', { status: { replicas: 3 } }), true);
  });
});

describe('exactName', () => {
  it('returns the name only for exactly metadata.name=X', () => {
    assert.equal(exactName(parseFieldSelector('metadata.name=web-1', 'pods')), 'web-1');
    assert.equal(exactName(parseFieldSelector('metadata.name==web-1', 'pods')), 'web-1');
    assert.equal(exactName(parseFieldSelector('metadata.name!=web-1', 'pods')), undefined);
    assert.equal(exactName(parseFieldSelector('metadata.name=web-1,spec.nodeName=n1', 'pods')), undefined);
    assert.equal(exactName(parseFieldSelector('spec.nodeName=n1', 'pods')), undefined);
    assert.equal(exactName([]), undefined);
  });
});

describe('fieldSelectorToString', () => {
  it('is canonical and escapes values', () => {
    const s = parseFieldSelector('status.phase!=Failed,metadata.name=a\\,b', 'pods');
    assert.equal(fieldSelectorToString(s), 'metadata.name=a\\,b,status.phase!=Failed');
    assert.deepEqual(parseFieldSelector(fieldSelectorToString(s), 'pods'), [...s].reverse());
  });
});
