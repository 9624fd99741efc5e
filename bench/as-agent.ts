/**
 * Imported first by a benchmark that runs agent code in its own process (the
 * service proxy): re-runs the benchmark under the agent's node flags and
 * environment (agent/settings.ts), so the figures are those of the code as the
 * agent runs it.
 */
import { spawnSync } from 'node:child_process';
import { AGENT_ENV, AGENT_NODE_FLAGS } from '../agent/settings.js';

if (!AGENT_NODE_FLAGS.every((f) => process.execArgv.includes(f))) {
  const r = spawnSync(process.execPath, [...process.execArgv, ...AGENT_NODE_FLAGS, ...process.argv.slice(1)], { stdio: 'inherit', env: { ...process.env, ...AGENT_ENV } });
  process.exit(r.status ?? 1);
}
