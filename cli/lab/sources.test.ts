import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_KEYRING, DEFAULT_MIRROR, hostMirror, parseDeb822, parseOneLine, pickMirror } from './sources.js';

const DEB822 = `Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://mirror.example/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://mirror.example/debian-security
Suites: bookworm-security
Components: main

Types: deb-src
URIs: http://src.example/debian
Suites: bookworm
Components: main

Types: deb
Enabled: no
URIs: http://off.example/debian
Suites: bookworm
Components: main
`;

test('parseDeb822: deb stanzas with their URIs, suites, components and keyring; deb-src and disabled ones skipped', () => {
  const s = parseDeb822(DEB822);
  assert.deepEqual(s.map((x) => x.uri), ['http://mirror.example/debian', 'http://mirror.example/debian-security']);
  assert.deepEqual(s[0]!.suites, ['bookworm', 'bookworm-updates']);
  assert.equal(s[0]!.signedBy, '/usr/share/keyrings/debian-archive-keyring.gpg');
});

test('parseOneLine: options, comments, deb-src ignored', () => {
  const s = parseOneLine(`# a comment
deb [arch=amd64 signed-by=/k.gpg] http://a.example/debian bookworm main contrib
deb-src http://a.example/debian bookworm main
deb http://b.example/debian bookworm-updates main # trailing
deb https://packages.example/apt cloud-sdk-bookworm main
`);
  assert.deepEqual(s, [
    { uri: 'http://a.example/debian', suites: ['bookworm'], components: ['main', 'contrib'], signedBy: '/k.gpg' },
    { uri: 'http://b.example/debian', suites: ['bookworm-updates'], components: ['main'], signedBy: undefined },
    { uri: 'https://packages.example/apt', suites: ['cloud-sdk-bookworm'], components: ['main'], signedBy: undefined },
  ]);
});

test('pickMirror: the suite itself with main, not -updates or a third-party suite', () => {
  const s = [...parseOneLine('deb https://packages.example/apt cloud-sdk-bookworm main\ndeb http://u.example/debian bookworm-updates main'), ...parseDeb822(DEB822)];
  assert.deepEqual(pickMirror(s, 'bookworm'), { uri: 'http://mirror.example/debian', keyring: '/usr/share/keyrings/debian-archive-keyring.gpg' });
  assert.equal(pickMirror(s, 'trixie'), undefined);
  assert.deepEqual(pickMirror(parseOneLine('deb http://x.example/debian/ bookworm main'), 'bookworm'), { uri: 'http://x.example/debian', keyring: DEFAULT_KEYRING });
});

test('hostMirror: reads sources.list and sources.list.d (.list and .sources), falls back to deb.debian.org', async () => {
  const etc = mkdtempSync(join(tmpdir(), 'skiff-apt-'));
  try {
    assert.deepEqual(await hostMirror('bookworm', etc), { uri: DEFAULT_MIRROR, keyring: DEFAULT_KEYRING });
    mkdirSync(join(etc, 'sources.list.d'));
    writeFileSync(join(etc, 'sources.list.d', 'debian.sources'), DEB822);
    writeFileSync(join(etc, 'sources.list.d', 'other.list'), 'deb http://other.example/x stable main\n');
    assert.equal((await hostMirror('bookworm', etc)).uri, 'http://mirror.example/debian');
    // sources.list comes first.
    writeFileSync(join(etc, 'sources.list'), 'deb http://first.example/debian bookworm main\n');
    assert.equal((await hostMirror('bookworm', etc)).uri, 'http://first.example/debian');
  } finally {
    rmSync(etc, { recursive: true, force: true });
  }
});
