/**
 * Shared informers: one list+watch per resource, whatever the number of
 * controllers reading it, feeding an indexed cache (store.ts) and fanning out
 * add/update/delete events. Built on @kubernetes/client-node's makeInformer
 * (which relists on 410 and re-watches after its 30 s timeout); an informer that
 * stops on a connection error is restarted with backoff, as its docs advise.
 *
 * Contract for handlers: they run synchronously after the cache was updated,
 * get the previous object on update, and must only enqueue keys — never do I/O.
 * `hasSynced()` turns true once the first list is in the cache; controllers
 * start workers only after every informer they read has synced.
 */
import type { Logger } from '../../common/log.js';
import { realClock, type Clock, type TimerHandle } from './clock.js';
import type { Api } from './client.js';
import type { Obj } from './objects.js';
import { pathFor, type Kind } from './resources.js';
import { Indexer, type IndexFunc } from './store.js';

export interface EventHandler {
  add?(o: Obj): void;
  update?(old: Obj, cur: Obj): void;
  delete?(o: Obj): void;
}

/** What an informer is built on: client-node's Informer (a ListWatch), or a fake in tests. */
export interface ListWatchSource {
  on(verb: 'add' | 'update' | 'delete', cb: (o: Obj) => void): void;
  on(verb: 'error' | 'connect', cb: (err?: unknown) => void): void;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export type SourceFactory = (path: string, list: () => Promise<Obj>) => ListWatchSource;

export class SharedInformer {
  readonly store = new Indexer();
  private handlers: EventHandler[] = [];
  private source?: ListWatchSource;
  private listed = false;
  private synced = false;
  private started = false;
  private stopped = false;
  private failures = 0;
  private retry?: TimerHandle;
  private onSynced: (() => void)[] = [];

  constructor(
    readonly path: string,
    private readonly list: () => Promise<Obj>,
    private readonly makeSource: SourceFactory,
    private readonly log: Logger,
    private readonly clock: Clock = realClock,
  ) {}

  /** Registers a handler; one added after start first gets an add for each cached object. */
  addEventHandler(h: EventHandler): void {
    this.handlers.push(h);
    if (this.started) for (const o of this.store.list()) h.add?.(o);
  }

  addIndex(name: string, fn: IndexFunc): void {
    if (!this.store.hasIndex(name)) this.store.addIndex(name, fn);
  }

  get(namespace: string | undefined, name: string): Obj | undefined {
    return this.store.get(namespace, name);
  }

  listAll(namespace?: string): Obj[] {
    return this.store.list(namespace);
  }

  byIndex(name: string, value: string): Obj[] {
    return this.store.byIndex(name, value);
  }

  hasSynced(): boolean {
    return this.synced;
  }

  /** Resolves once synced (immediately if already). */
  whenSynced(): Promise<void> {
    if (this.synced) return Promise.resolve();
    return new Promise((r) => this.onSynced.push(r));
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    const src = this.makeSource(this.path, async () => {
      const l = await this.list();
      this.listed = true;
      return l;
    });
    this.source = src;
    src.on('add', (o) => {
      const old = this.store.upsert(o);
      for (const h of this.handlers) old ? h.update?.(old, o) : h.add?.(o);
    });
    src.on('update', (o) => {
      const old = this.store.upsert(o);
      for (const h of this.handlers) old ? h.update?.(old, o) : h.add?.(o);
    });
    src.on('delete', (o) => {
      const old = this.store.remove(o) ?? o;
      for (const h of this.handlers) h.delete?.(old);
    });
    src.on('error', (err) => {
      if (this.stopped) return;
      this.failures++;
      const delay = Math.min(30_000, 100 * 2 ** Math.min(this.failures, 10));
      this.log.debug({ path: this.path, err: String(err), delay }, 'informer stopped; restarting');
      this.retry?.cancel();
      this.retry = this.clock.after(delay, () => void this.run());
    });
    void this.run();
  }

  private async run(): Promise<void> {
    if (this.stopped || !this.source) return;
    const before = this.failures;
    try {
      await this.source.start();
    } catch (e) {
      // The list failed (a server restarting): try again with backoff, as after a watch error.
      // Without this an informer whose relist hits a down server would stop for good.
      if (this.stopped) return;
      this.failures++;
      const delay = Math.min(30_000, 100 * 2 ** Math.min(this.failures, 10));
      this.log.debug({ path: this.path, err: String(e), delay }, 'informer start failed; retrying');
      this.retry?.cancel();
      this.retry = this.clock.after(delay, () => void this.run());
      return;
    }
    if (this.failures === before) this.failures = 0;
    if (this.listed && !this.synced && !this.stopped) {
      this.synced = true;
      for (const f of this.onSynced.splice(0)) f();
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.retry?.cancel();
    await this.source?.stop();
  }
}

export interface FactoryOptions {
  api: Api;
  log: Logger;
  /** How informers list and watch: client-node's (clientnode.ts) in the controllers, ApiListWatch in the agent, a fake in tests. */
  source: SourceFactory;
  clock?: Clock;
}

/** Hands out one SharedInformer per resource path, and starts and stops them together. */
export class InformerFactory {
  private informers = new Map<string, SharedInformer>();
  private readonly source: SourceFactory;

  constructor(private readonly opts: FactoryOptions) {
    this.source = opts.source;
  }

  /** The informer for `kind` across all namespaces, or within one. */
  forKind(kind: Kind, namespace?: string): SharedInformer {
    const path = pathFor(kind, namespace);
    let inf = this.informers.get(path);
    if (!inf) {
      inf = new SharedInformer(path, () => this.opts.api.list(path), this.source, this.opts.log, this.opts.clock);
      this.informers.set(path, inf);
    }
    return inf;
  }

  all(): SharedInformer[] {
    return [...this.informers.values()];
  }

  /** Starts every informer handed out so far (idempotent). */
  start(): void {
    for (const inf of this.informers.values()) inf.start();
  }

  /** Resolves when every informer has synced; rejects if `signal` aborts first. */
  async waitForSync(signal?: AbortSignal): Promise<void> {
    const all = Promise.all([...this.informers.values()].map((i) => i.whenSynced()));
    if (!signal) return void (await all);
    if (signal.aborted) throw new Error('aborted before caches synced');
    await new Promise<void>((resolve, reject) => {
      const onAbort = (): void => reject(new Error('aborted before caches synced'));
      signal.addEventListener('abort', onAbort, { once: true });
      void all.then(() => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      });
    });
  }

  async stop(): Promise<void> {
    await Promise.all([...this.informers.values()].map((i) => i.stop()));
  }
}
