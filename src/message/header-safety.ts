import { TOKEN } from './chars.js';

/**
 * A header value set by the application may not hold a line break: written out, what follows it
 * would be a header line of its own (header injection, e.g. a caller's display name taken from a
 * web form). Parsed values never do (the parser refuses bare CR/LF; folded lines are joined).
 */
export function checkHeaderValue(value: string): string {
  if (value.indexOf('\n') !== -1 || value.indexOf('\r') !== -1) {
    throw new TypeError(`a SIP header value cannot contain a line break: ${JSON.stringify(value.slice(0, 60))}`);
  }
  return value;
}

/** A header name is a token (RFC 3261 §25.1): no colon, space or line break in it. */
export function checkHeaderName(name: string): string {
  const n = name.length;
  if (n === 0) throw new TypeError('a SIP header name cannot be empty');
  for (let i = 0; i < n; i++) {
    const c = name.charCodeAt(i);
    if (c >= 128 || TOKEN[c] !== 1) throw new TypeError(`a SIP header name must be a token: ${JSON.stringify(name.slice(0, 60))}`);
  }
  return name;
}
