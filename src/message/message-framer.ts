import { SipParseError, tooLarge } from './errors.js';
import type { FrameSink, Framer } from './framer.js';
import { DEFAULT_MAX_BODY, DEFAULT_MAX_HEADER, parseMessage, type ParseLimits } from './parse.js';
import type { SipRequest, SipResponse } from './message.js';

const CRLFCRLF = Buffer.from('\r\n\r\n');

/**
 * Framing of a transport that delivers messages whole (RFC 7118: one SIP message per WebSocket
 * message): each chunk is one frame. CRLF-only chunks are keep-alives (a CRLFCRLF one a ping);
 * a chunk over the size limits is refused before any parsing (513).
 */
export class MessageFramer implements Framer {
  private readonly max: number;

  constructor(limits?: ParseLimits) {
    this.max = (limits?.maxHeader ?? DEFAULT_MAX_HEADER) + (limits?.maxBody ?? DEFAULT_MAX_BODY);
  }

  push(chunk: Buffer, sink: FrameSink): void {
    const n = chunk.length;
    if (n <= 4 && isCrlfOnly(chunk)) {
      sink.onKeepAlive(n === 4);
      return;
    }
    if (n > this.max) throw tooLarge('Message');
    sink.onFrame(chunk);
  }
}

function isCrlfOnly(b: Buffer): boolean {
  for (let i = 0; i < b.length; i++) if (b[i] !== 13 && b[i] !== 10) return false;
  return true;
}

/**
 * Parse a frame that must hold exactly one SIP message (a WebSocket message, RFC 7118 §5): like
 * parseMessage, and bytes after a Content-Length body (other than line ends) are an error, not
 * dropped as a datagram's would be: a second message, or a sender that counted wrong. A missing
 * Content-Length means the body is the rest of the frame; a short body is an error (parseMessage).
 */
export function parseWholeMessage(data: Buffer, limits?: ParseLimits): SipRequest | SipResponse {
  const msg = parseMessage(data, limits);
  if (!msg.headers.has('content-length')) return msg;
  const headEnd = data.indexOf(CRLFCRLF);
  if (headEnd === -1) return msg; // a body-less message ending after its last header's CRLF
  let end = headEnd + 4 + msg.body.length;
  while (end < data.length && (data[end] === 13 || data[end] === 10)) end++;
  if (end === data.length) return msg;
  const err = new SipParseError('More than one SIP message in a WebSocket message');
  err.isRequest = msg.isRequest();
  err.headers = msg.headers;
  throw err;
}
