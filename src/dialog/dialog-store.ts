import { ShardedMap } from '../transaction/index.js';
import type { SipDialog } from './dialog.js';

/**
 * Where the dialog table keeps its dialogs, by key (Call-ID + local tag + remote tag). The default
 * keeps them in memory; another store (shared between instances) implements the same calls.
 */
export interface DialogStore {
  get(key: string): SipDialog | undefined;
  set(key: string, dialog: SipDialog): void;
  delete(key: string): void;
  readonly size: number;
  values(): IterableIterator<SipDialog>;
}

/** The in-memory default: a ShardedMap (a B2BUA holds 100,000+ dialogs; one Map's rebuild would stall it). */
export class MemoryDialogStore implements DialogStore {
  private readonly map = new ShardedMap<SipDialog>();

  get(key: string): SipDialog | undefined {
    return this.map.get(key);
  }

  set(key: string, dialog: SipDialog): void {
    this.map.set(key, dialog);
  }

  delete(key: string): void {
    this.map.delete(key);
  }

  get size(): number {
    return this.map.size;
  }

  values(): IterableIterator<SipDialog> {
    return this.map.values();
  }
}

const SEP = '\u0001';

/** A dialog's key: Call-ID, our tag, the peer's tag (RFC 3261 §12: the dialog ID). */
export function dialogKey(callId: string, localTag: string, remoteTag: string): string {
  return callId + SEP + localTag + SEP + remoteTag;
}
