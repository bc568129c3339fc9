import type { OtelApiLike } from '../observe/index.js';

/** `@opentelemetry/api`, loaded only when tracing is asked for (an optional peer dependency). */
export async function loadOtel(): Promise<OtelApiLike> {
  try {
    return (await import('@opentelemetry/api')) as unknown as OtelApiLike;
  } catch (err) {
    throw new Error(`SipServer tracing needs @opentelemetry/api (npm install @opentelemetry/api and an OpenTelemetry SDK): ${(err as Error).message}`);
  }
}
