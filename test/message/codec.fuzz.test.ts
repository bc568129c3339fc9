/**
 * Long property runs of the codec: `npm run fuzz` (vitest.fuzz.config.ts).
 * FUZZ_RUNS sets the number of cases per property (default 20000).
 */
import { describe, it } from 'vitest';
import { checkFramerChunking, checkMutations, checkRoundTrip, checkUriRoundTrip } from './codec-properties.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 20_000);

describe(`codec fuzz (${RUNS} runs per property)`, () => {
  it('round trips of generated messages', () => {
    checkRoundTrip(RUNS);
  });

  it('round trips of generated URIs and Via values', () => {
    checkUriRoundTrip(RUNS);
  });

  it('mutated and truncated real messages: a message or a SipParseError, never another exception', () => {
    checkMutations(RUNS * 5);
  });

  it('stream framer: same frames for every chunking', () => {
    checkFramerChunking(RUNS);
  });
});
