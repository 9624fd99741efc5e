/**
 * The control plane the controller suites run against: `skiff server` with its
 * embedded controllers, no scheduler (FakeNodes binds pods itself), a short node
 * grace period and a small terminated-pod threshold so the suites finish quickly.
 *
 * EMBEDDED = false runs `skiff server --disable-controllers` plus the controllers
 * in this process instead, which is handy when debugging a controller.
 */
import * as k8s from '@kubernetes/client-node';
import { startControllers } from '../controlplane/controllers/index.js';
import { isLogLevel, setLogLevel } from '../common/log.js';
import { startServer, type ServerProc } from './harness.js';

const EMBEDDED = true;

const level = process.env.SKIFF_LOG_LEVEL ?? 'warn';
if (isLogLevel(level)) setLogLevel(level);

export async function startControlPlane(): Promise<{ s: ServerProc; stop(): Promise<void> }> {
  const args = ['--disable-scheduler', '--node-monitor-grace-period', '3s', '--terminated-pod-gc-threshold', '2', ...(EMBEDDED ? [] : ['--disable-controllers'])];
  const s = await startServer({ extraArgs: args });
  if (EMBEDDED) return { s, stop: () => s.stop() };
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(s.kubeconfig);
  const cp = await startControllers({ kubeconfig: kc, clusterCidr: '10.244.0.0/16', nodeMonitorGracePeriodSeconds: 3, terminatedPodGcThreshold: 2 });
  return {
    s,
    stop: async () => {
      await cp.stop();
      await s.stop();
    },
  };
}
