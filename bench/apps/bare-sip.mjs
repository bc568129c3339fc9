// The minimal "SIP" of the bare responders: build a 200 OK from a request's text by copying the
// Via/From/To/Call-ID/CSeq lines. Returns a Buffer, or undefined when the text is not a request.

const TAG = ';tag=bare1';

/** @param {string} text one whole message, header section first (latin1) */
export function okFor(text) {
  if (text.startsWith('SIP/2.0')) return undefined; // a response: ignore
  const end = text.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  let out = 'SIP/2.0 200 OK\r\n';
  let i = text.indexOf('\r\n') + 2;
  while (i < end + 2) {
    let eol = text.indexOf('\r\n', i);
    const colon = text.indexOf(':', i);
    if (colon > 0 && colon < eol) {
      const name = text.slice(i, colon).trimEnd().toLowerCase();
      switch (name) {
        case 'via': case 'v': case 'from': case 'f': case 'call-id': case 'i': case 'cseq':
          out += text.slice(i, eol + 2);
          break;
        case 'to': case 't': {
          const line = text.slice(i, eol);
          out += line.includes(';tag=') ? line + '\r\n' : line + TAG + '\r\n';
          break;
        }
      }
    }
    i = eol + 2;
  }
  return Buffer.from(out + 'Content-Length: 0\r\n\r\n', 'latin1');
}

/** Content-Length (or l) of a header section, 0 when absent. */
export function contentLength(head) {
  const m = /\r\n(?:content-length|l)[ \t]*:[ \t]*(\d+)/i.exec(head);
  return m ? Number(m[1]) : 0;
}
