/* eslint-disable @typescript-eslint/no-explicit-any */
type AnyFn = (...args: any[]) => void;
type EventMap<E> = { [K in keyof E]: AnyFn };

/**
 * A minimal typed event emitter. Listener arrays are allocated only when somebody listens, so a
 * transaction nobody observes pays nothing. Unlike Node's EventEmitter, an unhandled 'error'
 * event does not throw, and a throwing listener is reported through `listenerError` instead of
 * breaking the transaction's state machine.
 */
export class TinyEmitter<E extends EventMap<E>> {
  private _listeners: { [K in keyof E]?: E[K][] } | undefined;

  on<K extends keyof E>(event: K, listener: E[K]): this {
    const all = (this._listeners ??= {} as { [K in keyof E]?: E[K][] });
    (all[event] ??= []).push(listener);
    return this;
  }

  once<K extends keyof E>(event: K, listener: E[K]): this {
    const wrapper = ((...args: unknown[]) => {
      this.off(event, wrapper);
      listener(...args);
    }) as E[K];
    return this.on(event, wrapper);
  }

  off<K extends keyof E>(event: K, listener: E[K]): this {
    const list = this._listeners?.[event];
    if (list === undefined) return this;
    const i = list.indexOf(listener);
    if (i !== -1) list.splice(i, 1);
    return this;
  }

  listenerCount<K extends keyof E>(event: K): number {
    return this._listeners?.[event]?.length ?? 0;
  }

  protected emit<K extends keyof E>(event: K, ...args: Parameters<E[K]>): void {
    const list = this._listeners?.[event];
    if (list === undefined || list.length === 0) return;
    const copy = list.length === 1 ? list : list.slice();
    for (let i = 0; i < copy.length; i++) {
      try {
        copy[i]!(...args);
      } catch (err) {
        this.listenerError(err);
      }
    }
  }

  /** A listener threw. */
  protected listenerError(err: unknown): void {
    queueMicrotask(() => {
      throw err;
    });
  }
}
