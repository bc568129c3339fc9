/**
 * Property tests (fast-check), default run: a few hundred cases each, the whole file in a few
 * seconds. The same properties run long in codec.fuzz.test.ts (`npm run fuzz`).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { parseMessage, SipParseError, StreamFramer } from '../../src/message/index.js';
import { checkBytes, checkFramerChunking, checkMutations, checkRoundTrip, checkUriRoundTrip, CORPUS } from './codec-properties.js';
import { OPTIONS } from './fixtures.js';

const RUNS = 300;

describe('properties', () => {
  it('generated messages: serialise -> parse gives the same message, views included, and the same bytes again', () => {
    checkRoundTrip(RUNS);
  });

  it('generated URIs and Via values: format -> parse round trip', () => {
    checkUriRoundTrip(RUNS);
  });

  it('every corpus message (RFC 4475 + typical) passes the robustness check unmutated', () => {
    for (const data of CORPUS) checkBytes(data);
  });

  it('mutations and truncations of real messages give a message or a SipParseError, never another exception', () => {
    checkMutations(500);
  });

  it('every truncation of every corpus message', () => {
    for (const data of CORPUS) for (let i = 0; i <= data.length; i += 7) checkBytes(data.subarray(0, i));
  });

  it('regressions found by the fuzz run: primed and lazily parsed list views agree', () => {
    // A ',' inside [IPv6] or after a '"' / '<' in a URI moved the element boundaries of the
    // in-place list reader away from splitList's (now those characters are rejected there).
    for (const line of [
      'Via: SIP/2.0/TCP [,2001:db8::9]:5061;branch=z9hG4bK1',
      'Contact: <sip:a"b@example.com>, <sip:c@example.com>',
      'Contact: sip:a"b@example.com, sip:c@example.com',
      'Contact: sip:a<b@example.com, sip:c@example.com',
      'Contact: "x,y" <sip:a@example.com>;q=0.5, *',
    ]) {
      checkBytes(Buffer.from(OPTIONS.replace('Accept: application/sdp', line)));
    }
  });

  it('the stream framer gives the same frames and keep-alives for every chunking', () => {
    checkFramerChunking(RUNS);
  });

  it('random bytes pushed into a framer: frames or SipParseError only', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 10 }), (chunks) => {
        const framer = new StreamFramer({ maxHeader: 512, maxBody: 512 });
        const sink = { onFrame: (d: Buffer) => checkBytes(d), onKeepAlive() {} };
        try {
          for (const c of chunks) framer.push(Buffer.from(c), sink);
        } catch (e) {
          if (!(e instanceof SipParseError)) throw e;
        }
        expect(framer.buffered).toBeLessThanOrEqual(512 + 200);
      }),
      { numRuns: RUNS },
    );
  });
});

describe('no catastrophic regular expressions on untrusted input', () => {
  const dir = fileURLToPath(new URL('../../src/message/', import.meta.url));

  it('src/message uses no RegExp except two fixed single-class replaces on output', () => {
    // Every regular expression literal and RegExp construction in the codec sources.
    const found: string[] = [];
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts'))) {
      const src = ts.createSourceFile(file, readFileSync(dir + file, 'utf8'), ts.ScriptTarget.ES2022, true);
      const visit = (node: ts.Node): void => {
        if (node.kind === ts.SyntaxKind.RegularExpressionLiteral) found.push(`${file}: ${node.getText(src)}`);
        if ((ts.isNewExpression(node) || ts.isCallExpression(node)) && ts.isIdentifier(node.expression) && node.expression.text === 'RegExp') {
          found.push(`${file}: RegExp(${node.arguments?.map((a) => a.getText(src)).join(', ')})`);
        }
        // String methods that take a pattern string are fine; a pattern object would be listed above.
        ts.forEachChild(node, visit);
      };
      visit(src);
    }
    // Both escape quotes/backslashes in text we write (display names, Warning text): a single
    // character class, no quantifier, so no backtracking at all.
    expect(found.sort()).toEqual(['name-addr.ts: /["\\\\]/g', 'response.ts: /["\\\\]/g']);
  });

  const pathological: [string, string][] = [
    ['10k "<" in To', `To: ${'<'.repeat(10_000)}`],
    ['10k quotes in From', `From: ${'"'.repeat(10_000)}`],
    ['10k quoted-pair backslashes in a display name', `From: "${'\\'.repeat(10_001)}`],
    ['16 KB of ";" in Via', `Via: SIP/2.0/UDP h${';'.repeat(16_000)}`],
    ['16 KB of "," in Contact', `Contact: ${','.repeat(16_000)}`],
    ['16 KB of ", <sip:a@b>" in Contact', `Contact: ${'<sip:a@b>, '.repeat(1_400)}<sip:a@b>`],
    ['16 KB of ";a" in Contact', `Contact: <sip:a@b>${';a'.repeat(8_000)}`],
    ['16 KB of "%" in a URI', `Contact: <sip:${'%'.repeat(16_000)}@b>`],
    ['16 KB of "%41" in a URI', `Contact: <sip:${'%41'.repeat(5_300)}@b>`],
    ['8k folded continuation lines', `Subject: x${'\r\n y'.repeat(4_000)}`],
    ['16 KB of spaces', `X-Spaces: a${' '.repeat(16_000)}b`],
    ['16 KB of digits in CSeq', `CSeq: ${'9'.repeat(16_000)} OPTIONS`],
    ['16 KB of digits in Max-Forwards', `Max-Forwards: ${'0'.repeat(16_000)}1`],
    ['8k Via lines', 'Via: SIP/2.0/UDP h;branch=z9hG4bK1\r\n'.repeat(400).trimEnd()],
    ['16 KB of "[" in Via', `Via: SIP/2.0/UDP ${'['.repeat(16_000)}`],
    ['16 KB of ":" in a header line', `X${':'.repeat(16_000)}`],
    ['16 KB header without a colon', `X${'a'.repeat(16_000)}`],
  ];

  it.each(pathological)('%s completes', (_name, line) => {
    const msg = OPTIONS.replace('Accept: application/sdp', line);
    const t0 = performance.now();
    for (const limits of [undefined, { maxHeader: 1 << 20 }]) {
      try {
        const m = parseMessage(msg, limits);
        checkBytes(Buffer.from(msg));
        void m.contacts;
      } catch (e) {
        expect(e).toBeInstanceOf(SipParseError);
      }
    }
    // A generous bound that only catches hangs (a few ms expected; the test timeout is 30 s).
    expect(performance.now() - t0).toBeLessThan(5_000);
  });

  it('a 1 MB datagram of junk completes', () => {
    const junk = Buffer.alloc(1 << 20, 'a<";,%\\');
    const t0 = performance.now();
    expect(() => parseMessage(junk, { maxHeader: 1 << 21 })).toThrow(SipParseError);
    expect(performance.now() - t0).toBeLessThan(5_000);
  });
});
