import { parseNameAddr, parseUri, type SipRequest, type SipUri } from '../message/index.js';
import type { ProxyLeg } from './proxy-types.js';

/** The URI of a Route / Record-Route value (`<sip:...;lr>` or a bare URI). */
export function routeUri(value: string): SipUri {
  return parseUri(parseNameAddr(value, 'Route').uri);
}

/**
 * RFC 3261 §16.4 on a received request: a Request-URI we put into a Record-Route means the
 * previous hop is a strict router (the real Request-URI is the last Route: restore it); then
 * every Route on top that names us is removed (two of them after double record-routing).
 * Returns true when at least one Route named us (the request follows a route set through us).
 */
export function preprocessRoute(req: SipRequest, isLocal: (uri: SipUri) => boolean, popped?: (uri: SipUri) => void): boolean {
  const h = req.headers;
  let routes = h.getAll('route');
  let ours = false;
  if (routes.length > 0 && isLocal(req.requestUri) && !req.requestUri.user) {
    req.uri = parseNameAddr(routes[routes.length - 1]!, 'Route').uri;
    routes = routes.slice(0, -1);
    ours = true;
  }
  let i = 0;
  for (; i < routes.length; i++) {
    const u = routeUri(routes[i]!);
    if (!isLocal(u)) break;
    popped?.(u);
  }
  if (i > 0 || ours) {
    if (i === routes.length) h.delete('route');
    else h.set('Route', routes.slice(i));
  }
  return ours || i > 0;
}

/**
 * RFC 3261 §16.6 steps 6-7 on a request about to leave: where it goes next. A top Route without
 * `lr` is a strict router: the Request-URI moves to the end of the route set and the Route
 * becomes the Request-URI. Returns the URI to resolve (top Route, else Request-URI).
 */
export function nextHop(req: SipRequest): SipUri {
  const h = req.headers;
  const routes = h.getAll('route');
  if (routes.length === 0) return req.requestUri;
  const top = parseNameAddr(routes[0]!, 'Route').uri;
  const uri = parseUri(top);
  if (uri.params.has('lr')) return uri;
  const rest = routes.slice(1);
  rest.push(`<${req.uri}>`);
  req.uri = top;
  h.set('Route', rest);
  return req.requestUri;
}

/**
 * Our Record-Route (or Path) value for a leg: `<sip:host:port;transport=tcp;lr>`; with a flow token
 * (RFC 5626 §5.3, the connection a WebSocket client is reached on) in the user part: `<sip:ft.TOKEN@host...>`.
 */
export function recordRouteFor(leg: ProxyLeg, secure: boolean, double: boolean, flowToken?: string): string {
  const host = leg.host.includes(':') ? `[${leg.host}]` : leg.host;
  const scheme = secure ? 'sips' : 'sip';
  const transport = leg.proto === 'udp' || (secure && leg.proto === 'tls') ? '' : `;transport=${leg.proto}`;
  const user = flowToken === undefined ? '' : `${FLOW_USER}${flowToken}@`;
  return `<${scheme}:${user}${host}:${leg.port}${transport};lr${double ? ';r2=on' : ''}>`;
}

/** Our Via for a request leaving on `leg`: `SIP/2.0/UDP host:port;branch=...;rport`. */
export function viaFor(leg: ProxyLeg, branch: string): string {
  return `SIP/2.0/${leg.proto.toUpperCase()} ${leg.host.includes(':') ? `[${leg.host}]` : leg.host}:${leg.port};branch=${branch};rport`;
}

/** The user part prefix of a Record-Route carrying a flow token. */
export const FLOW_USER = 'ft.';
