import { describe, expect, it } from 'vitest';
import { resolveTimers, timerValues } from '../../src/transaction/timers.js';

describe('timers (RFC 3261 Table 4)', () => {
  it('defaults: T1 500, T2 4 s, T4 5 s and the derived A..M over UDP', () => {
    const t = timerValues(undefined, false);
    expect([t.T1, t.T2, t.T4]).toEqual([500, 4000, 5000]);
    expect({ A: t.A, B: t.B, D: t.D, E: t.E, F: t.F, G: t.G, H: t.H, I: t.I, J: t.J, K: t.K, L: t.L, M: t.M }).toEqual({
      A: 500, B: 32000, D: 32000, E: 500, F: 32000, G: 500, H: 32000, I: 5000, J: 32000, K: 5000, L: 32000, M: 32000,
    });
    expect(t.trying100).toBe(200);
    expect(t.serverInviteTimeout).toBe(180000);
    expect(t.serverNonInviteTimeout).toBe(32000);
  });

  it('reliable transports: no A/E/G retransmission, D/I/J/K zero, B/F/H/L/M unchanged', () => {
    const t = timerValues(undefined, true);
    expect({ A: t.A, E: t.E, G: t.G, D: t.D, I: t.I, J: t.J, K: t.K }).toEqual({ A: 0, E: 0, G: 0, D: 0, I: 0, J: 0, K: 0 });
    expect({ B: t.B, F: t.F, H: t.H, L: t.L, M: t.M }).toEqual({ B: 32000, F: 32000, H: 32000, L: 32000, M: 32000 });
  });

  it('overrides propagate to the derived timers', () => {
    const { unreliable: t } = resolveTimers({ T1: 100, T2: 800, T4: 1000, trying100: false, serverNonInviteTimeout: 5000 });
    expect({ A: t.A, B: t.B, E: t.E, F: t.F, G: t.G, H: t.H, I: t.I, J: t.J, K: t.K }).toEqual({
      A: 100, B: 6400, E: 100, F: 6400, G: 100, H: 6400, I: 1000, J: 6400, K: 1000,
    });
    expect(t.D).toBe(32000); // "at least 32 s" for unreliable transports
    expect(t.trying100).toBe(false);
    expect(t.serverNonInviteTimeout).toBe(5000);
    expect(resolveTimers({ T1: 1000 }).unreliable.D).toBe(64000);
  });

  it('rejects nonsense', () => {
    expect(() => resolveTimers({ T1: 0 })).toThrow(RangeError);
    expect(() => resolveTimers({ T2: -1 })).toThrow(RangeError);
    expect(() => resolveTimers({ T4: Number.NaN })).toThrow(RangeError);
  });
});
