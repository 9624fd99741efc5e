/**
 * The informer cache: objects by `namespace/name` key plus secondary indexes
 * (index name -> value -> keys), like client-go's ThreadSafeStore. Indexes are
 * maintained on every write, so lookups such as "pods of node n1" or "objects
 * owned by uid u" cost one map read. Objects are shared, never copied: callers
 * must treat what they get as read-only.
 */
import { keyOf, type Obj } from './objects.js';

/** Values an object is filed under for one index; [] files it nowhere. */
export type IndexFunc = (o: Obj) => string[];

export const NAMESPACE_INDEX = 'namespace';

export class Indexer {
  private items = new Map<string, Obj>();
  private funcs = new Map<string, IndexFunc>();
  private indices = new Map<string, Map<string, Set<string>>>();

  constructor() {
    this.addIndex(NAMESPACE_INDEX, (o) => [o.metadata?.namespace ?? '']);
  }

  /** Adds an index (also over the objects already stored). Re-adding a name is an error. */
  addIndex(name: string, fn: IndexFunc): void {
    if (this.funcs.has(name)) throw new Error(`index ${name} already exists`);
    this.funcs.set(name, fn);
    this.indices.set(name, new Map());
    for (const [key, o] of this.items) this.file(name, fn, key, o);
  }

  hasIndex(name: string): boolean {
    return this.funcs.has(name);
  }

  private file(name: string, fn: IndexFunc, key: string, o: Obj): void {
    const idx = this.indices.get(name)!;
    for (const v of new Set(fn(o))) {
      let set = idx.get(v);
      if (!set) idx.set(v, (set = new Set()));
      set.add(key);
    }
  }

  private unfile(key: string, o: Obj): void {
    for (const [name, fn] of this.funcs) {
      const idx = this.indices.get(name)!;
      for (const v of new Set(fn(o))) {
        const set = idx.get(v);
        if (!set) continue;
        set.delete(key);
        if (set.size === 0) idx.delete(v);
      }
    }
  }

  /** Stores `o` under its key; returns the object it replaced. */
  upsert(o: Obj): Obj | undefined {
    const key = keyOf(o);
    const old = this.items.get(key);
    if (old) this.unfile(key, old);
    this.items.set(key, o);
    for (const [name, fn] of this.funcs) this.file(name, fn, key, o);
    return old;
  }

  /** Removes the object stored under `o`'s key; returns it. */
  remove(o: Obj): Obj | undefined {
    const key = keyOf(o);
    const old = this.items.get(key);
    if (!old) return undefined;
    this.unfile(key, old);
    this.items.delete(key);
    return old;
  }

  getByKey(key: string): Obj | undefined {
    return this.items.get(key);
  }

  get(namespace: string | undefined, name: string): Obj | undefined {
    return this.items.get(namespace ? `${namespace}/${name}` : name);
  }

  /** Every object, or those of one namespace. */
  list(namespace?: string): Obj[] {
    if (namespace === undefined) return [...this.items.values()];
    return this.byIndex(NAMESPACE_INDEX, namespace);
  }

  /** Objects filed under `value` in index `name`. Throws for an unknown index. */
  byIndex(name: string, value: string): Obj[] {
    const idx = this.indices.get(name);
    if (!idx) throw new Error(`no index ${name}`);
    return [...(idx.get(value) ?? [])].map((k) => this.items.get(k)!).filter(Boolean);
  }

  /** The distinct values of index `name` in use. */
  indexValues(name: string): string[] {
    return [...(this.indices.get(name)?.keys() ?? [])];
  }

  keys(): string[] {
    return [...this.items.keys()];
  }

  get size(): number {
    return this.items.size;
  }
}
