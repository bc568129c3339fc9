import type { AdmissionGate } from '../transaction/index.js';

/**
 * Measures event-loop lag with one unref'd timer: how late each tick fires. Cheap (one timer every
 * `interval` ms), and real time on purpose: lag is what the requests waiting in the kernel feel.
 */
export class LagMeter {
  private timer: ReturnType<typeof setInterval> | undefined;
  private last = 0;

  constructor(
    private readonly gate: AdmissionGate,
    private readonly interval = 20,
  ) {}

  start(): void {
    if (this.timer !== undefined) return;
    this.last = performance.now();
    this.timer = setInterval(() => {
      const now = performance.now();
      const late = now - this.last - this.interval;
      this.last = now;
      // Rises at once, falls by half a tick at a time: one quick tick does not end an overload.
      this.gate.lag = late > this.gate.lag ? late : Math.max(0, late, this.gate.lag / 2);
    }, this.interval);
    this.timer.unref?.();
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    this.gate.lag = 0;
  }
}
