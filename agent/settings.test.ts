import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { AGENT_ENV, AGENT_NODE_FLAGS } from './settings.js';

// dist/agent/settings.test.js -> the repository's bin/skiff
const BIN = fileURLToPath(new URL('../../bin/skiff', import.meta.url));

test('bin/skiff starts the agent with the node flags and environment of AGENT_NODE_FLAGS / AGENT_ENV', () => {
  const text = readFileSync(BIN, 'utf8');
  const exec = text.split('\n').find((l) => /^\s*exec node .*main\.js" "\$@"$/.test(l) && l.includes('--'));
  assert.ok(exec, 'the agent exec line');
  const flags = exec.trim().split(/\s+/).slice(2).filter((w) => w.startsWith('--'));
  assert.deepEqual(flags, AGENT_NODE_FLAGS);
  for (const [k, v] of Object.entries(AGENT_ENV)) assert.match(text, new RegExp(`export ${k}="\\$\\{${k}:-${v}\\}"`), k);
});
