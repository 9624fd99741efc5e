/**
 * API semantics over raw HTTPS against a real server: discovery, OpenAPI,
 * list paging, watch (initial state, resume, bookmarks, 410, Table events,
 * timeout), status subresources and generation, graceful pod deletion,
 * finalizers, binding, eviction, scale, and Service address allocation.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Agent, request } from 'node:https';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { API_ONLY, http, removeDir, startServer, waitFor, type ServerProc } from './harness.js';

/** Opens a watch and collects its event lines until closed. */
function openWatch(s: ServerProc, path: string, headers: Record<string, string> = {}): { events: any[]; ended: Promise<void>; close(): void; contentType: Promise<string> } { // eslint-disable-line @typescript-eslint/no-explicit-any
  const events: any[] = []; // eslint-disable-line @typescript-eslint/no-explicit-any
  let close = (): void => undefined;
  let setCt: (v: string) => void = () => undefined;
  const contentType = new Promise<string>((r) => (setCt = r));
  const ended = new Promise<void>((resolve) => {
    const req = request({ host: '127.0.0.1', port: s.port, path, agent: new Agent({ ca: s.ca }), servername: 'localhost', headers: { authorization: `Bearer ${s.token}`, ...headers } }, (res) => {
      setCt(String(res.headers['content-type']));
      let buf = '';
      res.on('data', (c) => {
        buf += c;
        let i;
        while ((i = buf.indexOf('\n')) >= 0) {
          events.push(JSON.parse(buf.slice(0, i)));
          buf = buf.slice(i + 1);
        }
      });
      res.on('end', () => resolve());
      res.on('error', () => resolve());
      res.on('close', () => resolve());
    });
    req.on('error', () => resolve());
    req.end();
    close = () => req.destroy();
  });
  return { events, ended, close, contentType };
}

const cm = (name: string, labels: Record<string, string> = {}): string => JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, labels }, data: { a: '1' } });

describe('API semantics', () => {
  let s: ServerProc;
  before(async () => {
    s = await startServer({ extraArgs: API_ONLY });
  });
  after(async () => {
    await s.stop();
    removeDir(s.dataDir);
  });

  it('serves legacy and aggregated discovery, version and OpenAPI v3', async () => {
    const api = (await http(s, 'GET', '/api')).json();
    assert.deepEqual(api.versions, ['v1']);
    const groups = (await http(s, 'GET', '/apis')).json();
    assert.deepEqual(groups.groups.map((g: { name: string }) => g.name).sort(), ['apps', 'coordination.k8s.io', 'discovery.k8s.io']);
    const core = (await http(s, 'GET', '/api/v1')).json();
    const pods = core.resources.find((r: { name: string }) => r.name === 'pods');
    assert.equal(pods.kind, 'Pod');
    assert.ok(core.resources.some((r: { name: string; group?: string }) => r.name === 'pods/eviction' && r.group === 'policy'));
    const apps = (await http(s, 'GET', '/apis/apps/v1')).json();
    const scale = apps.resources.find((r: { name: string }) => r.name === 'deployments/scale');
    assert.deepEqual([scale.group, scale.version, scale.kind], ['autoscaling', 'v1', 'Scale']);
    const accept = 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json';
    const agg = await http(s, 'GET', '/apis', undefined, { accept });
    assert.equal(agg.headers['content-type'], 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList');
    assert.equal(agg.json().kind, 'APIGroupDiscoveryList');
    assert.equal((await http(s, 'GET', '/version')).json().minor, '32');
    const idx = (await http(s, 'GET', '/openapi/v3')).json();
    const url = idx.paths['apis/apps/v1'].serverRelativeURL;
    assert.equal((await http(s, 'GET', url)).status, 200);
    assert.equal((await http(s, 'GET', '/api/v1/namespaces/default/configmaps')).headers['content-type'], 'application/json');
  });

  it('pages a list with limit and continue, at one revision', async () => {
    await http(s, 'POST', '/api/v1/namespaces', JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'paging' } }));
    for (let i = 0; i < 25; i++) assert.equal((await http(s, 'POST', '/api/v1/namespaces/paging/configmaps', cm(`c${String(i).padStart(2, '0')}`, { even: String(i % 2 === 0) }))).status, 201);
    const seen: string[] = [];
    let token = '';
    let pages = 0;
    let rv = '';
    do {
      const r = (await http(s, 'GET', `/api/v1/namespaces/paging/configmaps?limit=10${token ? `&continue=${token}` : ''}`)).json();
      assert.deepEqual(r.items !== null, true);
      if (pages === 0) {
        rv = r.metadata.resourceVersion;
        assert.equal(r.metadata.remainingItemCount, 15);
        // A write between pages must not show up in later pages.
        await http(s, 'POST', '/api/v1/namespaces/paging/configmaps', cm('zz-late'));
      } else assert.equal(r.metadata.resourceVersion, rv);
      seen.push(...r.items.map((i: { metadata: { name: string } }) => i.metadata.name));
      token = r.metadata.continue ?? '';
      pages++;
    } while (token);
    assert.equal(pages, 3);
    assert.equal(seen.length, 25);
    assert.ok(!seen.includes('zz-late'));
    const even = (await http(s, 'GET', '/api/v1/namespaces/paging/configmaps?labelSelector=even%3Dtrue&limit=5')).json();
    assert.equal(even.items.length, 5);
    assert.ok(even.metadata.continue);
    const empty = (await http(s, 'GET', '/api/v1/namespaces/paging/configmaps?labelSelector=none%3Dx')).json();
    assert.deepEqual(empty.items, []);
    assertBadContinue(await http(s, 'GET', '/api/v1/namespaces/paging/configmaps?limit=1&continue=garbage'));
  });

  it('watches: current state first, changes after, selector transitions, resume by resourceVersion', async () => {
    await http(s, 'POST', '/api/v1/namespaces', JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'watching' } }));
    await http(s, 'POST', '/api/v1/namespaces/watching/configmaps', cm('pre', { w: 'yes' }));
    const w = openWatch(s, '/api/v1/namespaces/watching/configmaps?watch=true&labelSelector=w%3Dyes');
    assert.equal(await w.contentType, 'application/json');
    await waitFor(() => w.events.length >= 1, 'the synthetic ADDED');
    assert.equal(w.events[0].type, 'ADDED');
    assert.equal(w.events[0].object.metadata.name, 'pre');
    const created = (await http(s, 'POST', '/api/v1/namespaces/watching/configmaps', cm('new', { w: 'yes' }))).json();
    await http(s, 'PATCH', '/api/v1/namespaces/watching/configmaps/new', JSON.stringify({ metadata: { labels: { w: 'no' } } }), { 'content-type': 'application/merge-patch+json' });
    await http(s, 'PATCH', '/api/v1/namespaces/watching/configmaps/new', JSON.stringify({ metadata: { labels: { w: 'yes' } } }), { 'content-type': 'application/merge-patch+json' });
    await http(s, 'DELETE', '/api/v1/namespaces/watching/configmaps/new');
    await waitFor(() => w.events.length >= 5, 'four more events');
    w.close();
    assert.deepEqual(w.events.slice(1).map((e) => e.type), ['ADDED', 'DELETED', 'ADDED', 'DELETED']);
    const rvs = w.events.map((e) => Number(e.object.metadata.resourceVersion));
    assert.deepEqual([...rvs].slice(1), [...rvs].slice(1).sort((a, b) => a - b));
    // Resume from the creation's revision: the three later events again, nothing before.
    const resumed = openWatch(s, `/api/v1/namespaces/watching/configmaps?watch=true&labelSelector=w%3Dyes&resourceVersion=${created.metadata.resourceVersion}`);
    await waitFor(() => resumed.events.length >= 3, 'resumed events');
    resumed.close();
    assert.deepEqual(resumed.events.map((e) => e.type), ['DELETED', 'ADDED', 'DELETED']);
  });

  it('ends a watch at timeoutSeconds and sends Table events for kubectl', async () => {
    const t0 = Date.now();
    const w = openWatch(s, '/api/v1/namespaces/watching/configmaps?watch=true&timeoutSeconds=1', { accept: 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json' });
    await w.ended;
    assert.ok(Date.now() - t0 >= 900);
    assert.equal(w.events[0].object.kind, 'Table');
    assert.ok(w.events[0].object.columnDefinitions.length > 0);
    assert.equal(w.events[0].object.rows.length, 1);
  });

  it('keeps status and spec apart and bumps generation on spec changes', async () => {
    const dep = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'gen' },
      spec: { replicas: 1, selector: { matchLabels: { a: 'b' } }, template: { metadata: { labels: { a: 'b' } }, spec: { containers: [{ name: 'c', image: 'busybox' }] } } },
      status: { replicas: 99 },
    };
    const base = '/apis/apps/v1/namespaces/default/deployments';
    const created = (await http(s, 'POST', base, JSON.stringify(dep))).json();
    assert.equal(created.metadata.generation, 1);
    assert.equal(created.status?.replicas, undefined);
    const st = await http(s, 'PUT', `${base}/gen/status`, JSON.stringify({ ...created, spec: { ...created.spec, replicas: 7 }, status: { replicas: 1, observedGeneration: 1 } }));
    assert.equal(st.status, 200);
    assert.equal(st.json().spec.replicas, 1);
    assert.equal(st.json().status.replicas, 1);
    assert.equal(st.json().metadata.generation, 1);
    const upd = (await http(s, 'PATCH', `${base}/gen`, JSON.stringify({ spec: { replicas: 3 }, status: { replicas: 50 } }), { 'content-type': 'application/merge-patch+json' })).json();
    assert.equal(upd.metadata.generation, 2);
    assert.equal(upd.status.replicas, 1);
    const meta = (await http(s, 'PATCH', `${base}/gen`, JSON.stringify({ metadata: { labels: { x: 'y' } } }), { 'content-type': 'application/merge-patch+json' })).json();
    assert.equal(meta.metadata.generation, 2);
    const sc = (await http(s, 'GET', `${base}/gen/scale`)).json();
    assert.deepEqual([sc.kind, sc.spec.replicas, sc.status.selector], ['Scale', 3, 'a=b']);
    const scaled = (await http(s, 'PATCH', `${base}/gen/scale`, JSON.stringify({ spec: { replicas: 4 } }), { 'content-type': 'application/merge-patch+json' })).json();
    assert.equal(scaled.spec.replicas, 4);
  });

  it('binds a pod once, deletes a bound pod gracefully, and evicts', async () => {
    const pod = (name: string): string => JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name }, spec: { containers: [{ name: 'c', image: 'busybox' }] } });
    const base = '/api/v1/namespaces/default/pods';
    const p = (await http(s, 'POST', base, pod('bound'))).json();
    assert.equal(p.status.phase, 'Pending');
    assert.equal(p.status.qosClass, 'BestEffort');
    assert.ok(p.spec.tolerations.some((t: { key: string; tolerationSeconds: number }) => t.key === 'node.kubernetes.io/not-ready' && t.tolerationSeconds === 300));
    const bind = (node: string): Promise<{ status: number; json(): any }> => // eslint-disable-line @typescript-eslint/no-explicit-any
      http(s, 'POST', `${base}/bound/binding`, JSON.stringify({ apiVersion: 'v1', kind: 'Binding', metadata: { name: 'bound' }, target: { kind: 'Node', name: node } }));
    assert.equal((await bind('n1')).status, 201);
    const again = await bind('n2');
    assert.equal(again.status, 409);
    assert.match(again.json().message, /already assigned to node "n1"/);
    const bound = (await http(s, 'GET', `${base}/bound`)).json();
    assert.equal(bound.spec.nodeName, 'n1');
    assert.equal(bound.status.conditions.find((c: { type: string }) => c.type === 'PodScheduled').status, 'True');
    // A pod on a node gets its grace period; the agent finishes with grace 0.
    const del = await http(s, 'DELETE', `${base}/bound`);
    assert.equal(del.status, 200);
    assert.equal(del.json().metadata.deletionGracePeriodSeconds, 30);
    assert.ok(del.json().metadata.deletionTimestamp);
    assert.equal((await http(s, 'GET', `${base}/bound`)).status, 200);
    assert.equal((await http(s, 'DELETE', `${base}/bound`, JSON.stringify({ apiVersion: 'v1', kind: 'DeleteOptions', gracePeriodSeconds: 0 }))).status, 200);
    assert.equal((await http(s, 'GET', `${base}/bound`)).status, 404);
    // An unscheduled pod goes at once; eviction is a delete.
    await http(s, 'POST', base, pod('evictme'));
    const ev = await http(s, 'POST', `${base}/evictme/eviction`, JSON.stringify({ apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: 'evictme' } }));
    assert.equal(ev.status, 201);
    assert.equal((await http(s, 'GET', `${base}/evictme`)).status, 404);
  });

  it('holds an object with finalizers until they are removed', async () => {
    const base = '/api/v1/namespaces/default/configmaps';
    await http(s, 'POST', base, JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'held', finalizers: ['example.com/hold'] } }));
    const d = await http(s, 'DELETE', base + '/held');
    assert.equal(d.status, 200);
    assert.ok(d.json().metadata.deletionTimestamp);
    assert.equal((await http(s, 'GET', base + '/held')).status, 200);
    const fg = await http(s, 'DELETE', base + '/held', JSON.stringify({ kind: 'DeleteOptions', apiVersion: 'v1', propagationPolicy: 'Foreground' }));
    assert.deepEqual(fg.json().metadata.finalizers, ['example.com/hold', 'foregroundDeletion']);
    const r = await http(s, 'PATCH', base + '/held', JSON.stringify({ metadata: { finalizers: null } }), { 'content-type': 'application/merge-patch+json' });
    assert.equal(r.status, 200);
    assert.equal((await http(s, 'GET', base + '/held')).status, 404);
  });

  it('refuses new content in a terminating namespace and deletes collections by selector', async () => {
    await http(s, 'POST', '/api/v1/namespaces', JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'doomed' } }));
    await http(s, 'POST', '/api/v1/namespaces/doomed/configmaps', cm('inside'));
    const del = await http(s, 'DELETE', '/api/v1/namespaces/doomed');
    assert.equal(del.status, 200);
    assert.equal(del.json().status.phase, 'Terminating');
    const refused = await http(s, 'POST', '/api/v1/namespaces/doomed/configmaps', cm('late'));
    assert.equal(refused.status, 403);
    assert.match(refused.json().message, /unable to create new content in namespace doomed because it is being terminated/);
    // The namespace controller empties spec.finalizers through /finalize; then it is gone.
    const ns = (await http(s, 'GET', '/api/v1/namespaces/doomed')).json();
    await http(s, 'DELETE', '/api/v1/namespaces/doomed/configmaps?labelSelector=');
    const fin = await http(s, 'PUT', '/api/v1/namespaces/doomed/finalize', JSON.stringify({ ...ns, spec: { finalizers: [] } }));
    assert.equal(fin.status, 200);
    assert.equal((await http(s, 'GET', '/api/v1/namespaces/doomed')).status, 404);

    for (const [name, tier] of [['dc-a', 'x'], ['dc-b', 'x'], ['dc-c', 'y']]) await http(s, 'POST', '/api/v1/namespaces/default/configmaps', cm(name, { tier }));
    const dc = await http(s, 'DELETE', '/api/v1/namespaces/default/configmaps?labelSelector=tier%3Dx');
    assert.equal(dc.status, 200);
    assert.deepEqual(dc.json().items.map((i: { metadata: { name: string } }) => i.metadata.name).sort(), ['dc-a', 'dc-b']);
    const left = (await http(s, 'GET', '/api/v1/namespaces/default/configmaps?labelSelector=tier')).json();
    assert.deepEqual(left.items.map((i: { metadata: { name: string } }) => i.metadata.name), ['dc-c']);
  });

  it('lets the node-join token do what an agent needs and nothing more', async () => {
    const tokens = JSON.parse(readFileSync(join(s.dataDir, 'tokens.json'), 'utf8'));
    const node = { ...s, token: tokens.node };
    assert.equal((await http(node, 'GET', '/api/v1/pods')).status, 200);
    const nodeObj = JSON.stringify({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'worker-1' }, status: { capacity: { cpu: '2', memory: '4Gi', pods: '110' } } });
    assert.equal((await http(node, 'POST', '/api/v1/nodes', nodeObj)).status, 201);
    const denied = await http(node, 'POST', '/api/v1/namespaces/default/secrets', JSON.stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'x' } }));
    assert.equal(denied.status, 403);
    assert.equal(denied.json().reason, 'Forbidden');
    assert.match(denied.json().message, /User "system:node" cannot create resource "secrets"/);
  });

  it('allocates ClusterIPs and NodePorts without duplicates', async () => {
    const svc = (name: string, spec: Record<string, unknown>): string => JSON.stringify({ apiVersion: 'v1', kind: 'Service', metadata: { name }, spec: { ports: [{ port: 80 }], selector: { app: name }, ...spec } });
    const base = '/api/v1/namespaces/default/services';
    const ips = new Set<string>();
    const ports = new Set<number>();
    for (let i = 0; i < 20; i++) {
      const r = (await http(s, 'POST', base, svc(`s${i}`, { type: 'NodePort' }))).json();
      assert.match(r.spec.clusterIP, /^10\.(9[6-9]|10[0-9]|11[01])\./);
      ips.add(r.spec.clusterIP);
      const np = r.spec.ports[0].nodePort;
      assert.ok(np >= 30000 && np <= 32767);
      ports.add(np);
      assert.equal(r.spec.ports[0].targetPort, 80);
    }
    assert.equal(ips.size, 20);
    assert.equal(ports.size, 20);
    // 10.96.0.1 and 10.96.0.10 belong to the built-in kubernetes and kube-dns Services.
    assert.match((await http(s, 'POST', base, svc('steal', { clusterIP: '10.96.0.10' }))).json().message, /already allocated/);
    const fixed = await http(s, 'POST', base, svc('dns', { clusterIP: '10.96.0.20' }));
    assert.equal(fixed.json().spec.clusterIP, '10.96.0.20');
    const dup = await http(s, 'POST', base, svc('dns2', { clusterIP: '10.96.0.20' }));
    assert.equal(dup.status, 422);
    assert.match(dup.json().message, /already allocated/);
    const taken = [...ports][0];
    const dupPort = await http(s, 'POST', base, svc('np', { type: 'NodePort', ports: [{ port: 80, nodePort: taken }] }));
    assert.equal(dupPort.status, 422);
    // Deleting frees the address for reuse.
    await http(s, 'DELETE', `${base}/dns`);
    assert.equal((await http(s, 'POST', base, svc('dns3', { clusterIP: '10.96.0.20' }))).status, 201);
  });
});

describe('watch history and compaction', () => {
  let s: ServerProc;
  before(async () => {
    s = await startServer({ extraArgs: [...API_ONLY, '--compaction-interval', '100ms', '--compaction-keep', '5', '--bookmark-interval', '200ms'] });
  });
  after(async () => {
    await s.stop();
    removeDir(s.dataDir);
  });

  it('answers a compacted resourceVersion with an ERROR 410 Expired event, and sends bookmarks', async () => {
    const first = (await http(s, 'POST', '/api/v1/namespaces/default/configmaps', cm('old'))).json();
    for (let i = 0; i < 20; i++) await http(s, 'POST', '/api/v1/namespaces/default/configmaps', cm(`later-${i}`));
    const expiredEvent = await waitFor(async () => {
      const w = openWatch(s, `/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=${first.metadata.resourceVersion}`);
      await waitFor(() => w.events.length > 0, 'a first event');
      w.close();
      return w.events[0].type === 'ERROR' ? w.events[0] : undefined;
    }, 'compaction to pass the first revision');
    assert.equal(expiredEvent.object.kind, 'Status');
    assert.equal(expiredEvent.object.code, 410);
    assert.equal(expiredEvent.object.reason, 'Expired');
    assert.match(expiredEvent.object.message, /too old resource version/);
    // A list at the current revision and a watch with bookmarks from there.
    const list = (await http(s, 'GET', '/api/v1/namespaces/default/configmaps')).json();
    const w = openWatch(s, `/api/v1/namespaces/default/configmaps?watch=true&allowWatchBookmarks=true&resourceVersion=${list.metadata.resourceVersion}`);
    await http(s, 'POST', '/api/v1/namespaces/kube-system/configmaps', cm('elsewhere'));
    await http(s, 'POST', '/api/v1/namespaces/default/configmaps', cm('here'));
    const bm = await waitFor(() => w.events.find((e) => e.type === 'BOOKMARK'), 'a bookmark');
    w.close();
    assert.equal(bm.object.kind, 'ConfigMap');
    assert.ok(Number(bm.object.metadata.resourceVersion) >= Number(list.metadata.resourceVersion));
  });
});

function assertBadContinue(r: { status: number }): void {
  assert.equal(r.status, 400);
}
