/**
 * Which Debian mirror debootstrap uses: the one this host's apt already uses
 * (/etc/apt/sources.list and /etc/apt/sources.list.d/*.list|*.sources), so the
 * lab builds wherever `apt-get install` works, behind the same mirror or proxy.
 * Both formats are read: one-line (`deb [opts] URI suite comp...`) and deb822
 * stanzas (`Types:`, `URIs:`, `Suites:`, `Components:`).
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface AptSource {
  uri: string;
  suites: string[];
  components: string[];
  /** `signed-by` / `Signed-By`, when given as a file. */
  signedBy?: string;
}

/** One-line entries of a sources.list text (type `deb` only). Pure. */
export function parseOneLine(text: string): AptSource[] {
  const out: AptSource[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    if (!line.startsWith('deb ') && !line.startsWith('deb\t')) continue;
    let rest = line.slice(3).trim();
    let signedBy: string | undefined;
    if (rest.startsWith('[')) {
      const end = rest.indexOf(']');
      if (end < 0) continue;
      const m = /signed-by=(\S+)/.exec(rest.slice(1, end));
      if (m) signedBy = m[1];
      rest = rest.slice(end + 1).trim();
    }
    const [uri, suite, ...components] = rest.split(/\s+/);
    if (!uri || !suite) continue;
    out.push({ uri, suites: [suite], components, signedBy });
  }
  return out;
}

/** deb822 stanzas of a `.sources` text (Types including `deb`, not `Enabled: no`). Pure. */
export function parseDeb822(text: string): AptSource[] {
  const out: AptSource[] = [];
  for (const stanza of text.split(/\n\s*\n/)) {
    const fields = new Map<string, string>();
    let last = '';
    for (const raw of stanza.split('\n')) {
      if (raw.startsWith('#')) continue;
      if (/^\s/.test(raw) && last) {
        fields.set(last, `${fields.get(last)}\n${raw.trim()}`); // continuation (e.g. an inline key)
        continue;
      }
      const m = /^([A-Za-z-]+):\s*(.*)$/.exec(raw);
      if (!m) continue;
      last = m[1]!.toLowerCase();
      fields.set(last, m[2]!.trim());
    }
    const types = (fields.get('types') ?? '').split(/\s+/);
    if (!types.includes('deb') || fields.get('enabled') === 'no') continue;
    const words = (k: string): string[] => (fields.get(k) ?? '').split(/\s+/).filter(Boolean);
    const signed = fields.get('signed-by');
    for (const uri of words('uris')) {
      out.push({ uri, suites: words('suites'), components: words('components'), signedBy: signed && !signed.includes('\n') ? signed : undefined });
    }
  }
  return out;
}

export const DEFAULT_MIRROR = 'http://deb.debian.org/debian';
export const DEFAULT_KEYRING = '/usr/share/keyrings/debian-archive-keyring.gpg';

/**
 * The mirror for `suite`'s main archive: the first source carrying `suite`
 * itself (not `-updates` or `-security`) with component `main`. Pure.
 */
export function pickMirror(sources: AptSource[], suite: string): { uri: string; keyring: string } | undefined {
  const s = sources.find((x) => x.suites.includes(suite) && x.components.includes('main'));
  if (!s) return undefined;
  return { uri: s.uri.replace(/\/+$/, ''), keyring: s.signedBy ?? DEFAULT_KEYRING };
}

/** Reads this host's apt sources and picks the mirror (falling back to deb.debian.org). */
export async function hostMirror(suite: string, etc = '/etc/apt'): Promise<{ uri: string; keyring: string }> {
  const sources: AptSource[] = [];
  const list = await readFile(join(etc, 'sources.list'), 'utf8').catch(() => '');
  sources.push(...parseOneLine(list));
  const dir = join(etc, 'sources.list.d');
  const names = (await readdir(dir).catch(() => [] as string[])).sort();
  for (const n of names) {
    const text = await readFile(join(dir, n), 'utf8').catch(() => '');
    if (n.endsWith('.list')) sources.push(...parseOneLine(text));
    else if (n.endsWith('.sources')) sources.push(...parseDeb822(text));
  }
  return pickMirror(sources, suite) ?? { uri: DEFAULT_MIRROR, keyring: DEFAULT_KEYRING };
}
