import type { AdmissionGate } from '../transaction/index.js';

/**
 * Measures the event loop for the admission gate with one unref'd timer: how late each tick fires
 * (lag) and how busy the loop was since the last one (utilisation). Lag alone misses a saturated
 * UDP server: libuv reads a bounded batch of datagrams per turn, so timers stay on time while the
 * socket queue (and every request's wait) grows; utilisation near 1 shows it.
 */
export class LagMeter {
  private timer: ReturnType<typeof setInterval> | undefined;
  private last = 0;
  private elu = performance.eventLoopUtilization();

  constructor(
    private readonly gate: AdmissionGate,
    private readonly interval = 20,
  ) {}

  start(): void {
    if (this.timer !== undefined) return;
    this.last = performance.now();
    this.elu = performance.eventLoopUtilization();
    this.timer = setInterval(() => {
      const now = performance.now();
      const late = now - this.last - this.interval;
      this.last = now;
      const elu = performance.eventLoopUtilization();
      this.gate.load = performance.eventLoopUtilization(elu, this.elu).utilization;
      this.elu = elu;
      // Rises at once, falls by half a tick at a time: one quick tick does not end an overload.
      this.gate.lag = late > this.gate.lag ? late : Math.max(0, late, this.gate.lag / 2);
    }, this.interval);
    this.timer.unref?.();
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    this.gate.lag = 0;
    this.gate.load = 0;
  }
}
