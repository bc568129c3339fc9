// The proxy's pure parts: Route processing (§16.4, §16.6 steps 6-7, strict routers), best
// response selection (§16.7), challenge collection, loop hashes (a loop vs a spiral).
import { describe, expect, it } from 'vitest';
import { parseMessage, SipRequest, SipResponse, type SipUri } from '../../src/message/index.js';
import { bestResponse, nextHop, preprocessRoute } from '../../src/proxy/index.js';
import { collectChallenges } from '../../src/proxy/best-response.js';
import { isLoop, loopHash } from '../../src/proxy/loop-branch.js';
import { recordRouteFor } from '../../src/proxy/route-set.js';

const us = (u: SipUri) => u.host === '10.0.0.1' && (u.port ?? 5060) === 5060;

function request(uri: string, routes: string[], extra = ''): SipRequest {
  const text =
    `BYE ${uri} SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.9;branch=z9hG4bKa\r\n` +
    routes.map((r) => `Route: ${r}\r\n`).join('') +
    `From: <sip:a@x>;tag=1\r\nTo: <sip:b@y>;tag=2\r\nCall-ID: c1\r\nCSeq: 2 BYE\r\nMax-Forwards: 70\r\n${extra}Content-Length: 0\r\n\r\n`;
  return parseMessage(text) as SipRequest;
}

const response = (status: number, headers: Record<string, string> = {}) =>
  new SipResponse({ status, headers: { Via: 'SIP/2.0/UDP 10.0.0.9;branch=z9hG4bKa', CSeq: '1 INVITE', ...headers } });

describe('Route processing', () => {
  it('pops our loose Route (both of a double Record-Route) and keeps the rest', () => {
    const req = request('sip:bob@10.0.0.5', ['<sip:10.0.0.1;lr;r2=on>', '<sip:10.0.0.1:5060;transport=tcp;lr;r2=on>', '<sip:10.0.0.7;lr>']);
    expect(preprocessRoute(req, us)).toBe(true);
    expect(req.headers.getAll('route')).toEqual(['<sip:10.0.0.7;lr>']);
    expect(nextHop(req).host).toBe('10.0.0.7'); // loose: the top Route, Request-URI unchanged
    expect(req.uri).toBe('sip:bob@10.0.0.5');
  });

  it('a Request-URI that is our own Record-Route: the previous hop was a strict router, the last Route is the real target', () => {
    const req = request('sip:10.0.0.1;lr', ['<sip:10.0.0.7;lr>', '<sip:bob@10.0.0.5>']);
    expect(preprocessRoute(req, us)).toBe(true);
    expect(req.uri).toBe('sip:bob@10.0.0.5');
    expect(req.headers.getAll('route')).toEqual(['<sip:10.0.0.7;lr>']);
  });

  it('a next hop that is a strict router gets the route as Request-URI, the old Request-URI goes last', () => {
    const req = request('sip:bob@10.0.0.5', ['<sip:10.0.0.8>', '<sip:10.0.0.9;lr>']);
    expect(preprocessRoute(req, us)).toBe(false);
    const hop = nextHop(req);
    expect(hop.host).toBe('10.0.0.8');
    expect(req.uri).toBe('sip:10.0.0.8');
    expect(req.headers.getAll('route')).toEqual(['<sip:10.0.0.9;lr>', '<sip:bob@10.0.0.5>']);
  });

  it('no Route: the Request-URI is the next hop', () => {
    const req = request('sip:bob@10.0.0.5:5070', []);
    expect(nextHop(req)).toMatchObject({ host: '10.0.0.5', port: 5070 });
  });

  it('Record-Route values: transport, IPv6 brackets, sips, the RFC 5658 marker', () => {
    expect(recordRouteFor({ proto: 'udp', host: '10.0.0.1', port: 5060 }, false, false)).toBe('<sip:10.0.0.1:5060;lr>');
    expect(recordRouteFor({ proto: 'tcp', host: '::1', port: 5070 }, false, true)).toBe('<sip:[::1]:5070;transport=tcp;lr;r2=on>');
    expect(recordRouteFor({ proto: 'tls', host: 'p.example', port: 5061 }, true, false)).toBe('<sips:p.example:5061;lr>');
  });
});

describe('best response (§16.7)', () => {
  it('a 6xx beats everything; else the lowest class; 4xx that say how to retry first; 408 last in 4xx', () => {
    expect(bestResponse([response(486), response(603), response(302)])!.status).toBe(603);
    expect(bestResponse([response(503), response(486), response(404)])!.status).toBe(486);
    expect(bestResponse([response(408), response(480)])!.status).toBe(480);
    expect(bestResponse([response(486), response(407)])!.status).toBe(407);
    expect(bestResponse([response(500), response(302)])!.status).toBe(302);
    expect(bestResponse([])).toBeUndefined();
  });

  it('a 401/407 going up carries every branch challenge', () => {
    const a = response(401, { 'WWW-Authenticate': 'Digest realm="a", nonce="1"' });
    const b = response(407, { 'Proxy-Authenticate': 'Digest realm="b", nonce="2"' });
    const c = response(401, { 'WWW-Authenticate': 'Digest realm="c", nonce="3"' });
    collectChallenges(a, [a, b, c, response(486)]);
    expect(a.headers.getAll('www-authenticate')).toHaveLength(2);
    expect(a.headers.getAll('proxy-authenticate')).toEqual(['Digest realm="b", nonce="2"']);
  });
});

describe('loop detection (§16.3 step 4)', () => {
  it('the same request back with our Via: a loop; with another Request-URI: a spiral', () => {
    const first = request('sip:bob@10.0.0.1', []);
    const firstTop = first.headers.getAll('via')[0];
    const ours = `SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK${loopHash(first, firstTop)}.abc`;
    const mine = (v: { host: string }) => v.host === '10.0.0.1';
    const back = request('sip:bob@10.0.0.1', []);
    back.headers.prepend('Via', ours);
    expect(isLoop(back, back.via, back.headers.getAll('via'), mine)).toBe(true);
    const spiral = request('sip:bob@10.0.0.1', []);
    spiral.uri = 'sip:bob-office@10.0.0.1';
    spiral.headers.prepend('Via', ours);
    expect(isLoop(spiral, spiral.via, spiral.headers.getAll('via'), mine)).toBe(false);
  });
});

describe('flow tokens (RFC 5626 §5.2)', () => {
  it('name the connection they were made for; forged or altered ones name none', async () => {
    const { FlowTokens } = await import('../../src/proxy/flow-tokens.js');
    const t = new FlowTokens();
    const token = t.tokenFor('f1a');
    expect(token).toMatch(/^f1a\.[A-Za-z0-9_-]{16}$/);
    expect(t.flowOf(token)).toBe('f1a');
    expect(t.flowOf(token.replace('f1a', 'f1b'))).toBeUndefined(); // another client's connection
    expect(t.flowOf('f1a.AAAAAAAAAAAAAAAA')).toBeUndefined();
    expect(t.flowOf('nodot')).toBeUndefined();
    expect(new FlowTokens().flowOf(token)).toBeUndefined(); // another process's key
    expect(recordRouteFor({ proto: 'ws', host: '127.0.0.1', port: 8080 }, false, true, token)).toBe(`<sip:ft.${token}@127.0.0.1:8080;transport=ws;lr;r2=on>`);
  });
});
