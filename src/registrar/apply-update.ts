import type { Binding } from './binding.js';
import { bindingKey } from './binding.js';
import type { BindingUpdate, UpdateResult } from './location-store.js';

const OUT_OF_ORDER: UpdateResult = { ok: false, reason: 'out-of-order' };
const TOO_MANY: UpdateResult = { ok: false, reason: 'too-many' };

/**
 * The AOR's bindings after `u`, from the bindings stored before it (RFC 3261 §10.3 steps 6-8), or
 * the refusal. A pure function: the in-memory store runs it as it is, the Redis store runs the same
 * rule as a Lua script (redis-update-script.ts), and a test holds the two to the same answers.
 */
export function applyUpdate(stored: readonly Binding[], u: BindingUpdate): UpdateResult {
  const live = stored.filter((b) => b.expiresAt > u.now);
  if (u.removeAll) {
    // A binding last written by this Call-ID is removed only by a higher CSeq.
    for (const b of live) if (b.callId === u.callId && b.cseq >= u.cseq) return OUT_OF_ORDER;
    return { ok: true, bindings: [] };
  }
  const current = new Map<string, Binding>();
  for (const b of live) current.set(bindingKey(b), b);
  const added = new Set<string>();
  for (const c of u.changes) {
    const old = current.get(c.key);
    if (old !== undefined && old.callId === u.callId && old.cseq >= u.cseq) return OUT_OF_ORDER;
    current.delete(c.key);
    if (c.binding !== undefined) {
      current.set(c.key, c.binding);
      added.add(c.key);
    }
  }
  if (added.size > u.maxBindings) return TOO_MANY;
  let out = [...current.values()];
  if (out.length > u.maxBindings) {
    // Make room: drop the bindings this REGISTER did not write, soonest to expire first.
    const others = out.filter((b) => !added.has(bindingKey(b))).sort((a, b) => a.expiresAt - b.expiresAt || byKey(a, b));
    const drop = new Set(others.slice(0, out.length - u.maxBindings));
    out = out.filter((b) => !drop.has(b));
  }
  return { ok: true, bindings: sortByUpdate(out) };
}

/** Oldest write first (ties: by key, so every store lists the same order). */
export function sortByUpdate(list: Binding[]): Binding[] {
  return list.sort((a, b) => a.updatedAt - b.updatedAt || byKey(a, b));
}

function byKey(a: Binding, b: Binding): number {
  const ka = bindingKey(a);
  const kb = bindingKey(b);
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}
