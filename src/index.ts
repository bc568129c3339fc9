// The public API of nestjs-sip, and nothing else.
export * from './message/index.js';
