import type { LoggerService } from '@nestjs/common';

/** A Nest logger that keeps the lines of the levels asked for (warn and error by default), for tests of what the server logs. */
export class CapturingLogger implements LoggerService {
  readonly lines: string[] = [];
  private readonly keep: ReadonlySet<string>;

  constructor(levels: readonly ('log' | 'warn' | 'error')[] = ['warn', 'error']) {
    this.keep = new Set(levels);
  }

  log(m: unknown): void {
    if (this.keep.has('log')) this.lines.push(String(m));
  }
  warn(m: unknown): void {
    if (this.keep.has('warn')) this.lines.push(String(m));
  }
  error(m: unknown): void {
    if (this.keep.has('error')) this.lines.push(String(m));
  }
  debug(): void {}
  verbose(): void {}
}
