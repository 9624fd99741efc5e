import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Progress, parseDebootstrapLine } from './progress.js';

test('parseDebootstrapLine: per-package verbs become steps with items; sentences are steps; Validating is dropped', () => {
  assert.deepEqual(parseDebootstrapLine('I: Retrieving libc6 2.36-9+deb12u10'), { step: 'downloading', item: 'libc6' });
  assert.deepEqual(parseDebootstrapLine('I: Retrieving zlib1g 1:1.2.13.dfsg-1'), { step: 'downloading', item: 'zlib1g' });
  assert.deepEqual(parseDebootstrapLine('I: Configuring procps...'), { step: 'configuring', item: 'procps' });
  assert.deepEqual(parseDebootstrapLine('I: Unpacking libnettle8:amd64...'), { step: 'unpacking', item: 'libnettle8:amd64' });
  assert.deepEqual(parseDebootstrapLine('I: Unpacking required packages...'), { step: 'Unpacking required packages' });
  assert.deepEqual(parseDebootstrapLine('I: Configuring the base system...'), { step: 'Configuring the base system' });
  assert.deepEqual(parseDebootstrapLine('I: Base system installed successfully.'), { step: 'Base system installed successfully' });
  assert.equal(parseDebootstrapLine('I: Validating libc6 2.36-9'), undefined);
  assert.equal(parseDebootstrapLine('W: Failure while configuring base packages.'), undefined);
  assert.equal(parseDebootstrapLine(''), undefined);
});

test('Progress: off a terminal, one line per step and every Nth item; configuring counts against the unpacked total', () => {
  const out: string[] = [];
  const p = new Progress('x: ', { write: (s) => void out.push(s), isTTY: false }, 2);
  const feed = p.feed();
  // Chunks split mid-line on purpose.
  feed('I: Unpacking the base system...\nI: Unpacking a...\nI: Unp');
  feed('acking b...\nI: Unpacking c...\nI: Configuring the base system...\nI: Configuring a...\nI: Configuring b...\n');
  const lines = out.join('').split('\n').filter(Boolean).map((l) => l.replace(/, [\d.]+ s\)| \([\d.]+ s\)/, ''));
  assert.deepEqual(lines, [
    'x: Unpacking the base system',
    'x: unpacking 1 packages (a',
    'x: unpacking 2 packages (b',
    'x: Configuring the base system',
    'x: configuring 1/3 packages (a',
    'x: configuring 2/3 packages (b',
  ]);
});

test('Progress: on a terminal, the count is rewritten in place and ended before the next sentence', () => {
  let text = '';
  const p = new Progress('', { write: (s) => void (text += s), isTTY: true });
  p.event({ step: 'downloading', item: 'a' });
  p.event({ step: 'downloading', item: 'b' });
  p.say('done');
  assert.match(text, /^\rdownloading 1 packages \(a, [\d.]+ s\)\rdownloading 2 packages \(b, [\d.]+ s\)\ndone\n$/);
});
