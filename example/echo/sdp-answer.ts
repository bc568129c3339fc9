/**
 * A small, strict SDP offer reader and answer writer (RFC 4566, RFC 3264): only what the echo
 * needs. An offer it cannot read, or one without a usable audio stream, is refused (488) rather
 * than half-answered.
 */

/** One `m=` line of the offer, as offered (the answer needs one line per offered line, RFC 3264 §6). */
export interface OfferedStream {
  media: string;
  port: number;
  proto: string;
  formats: string[];
}

/** What the echo answers: the first usable audio stream of the offer. */
export interface AudioOffer {
  /** Every `m=` line of the offer, in order. */
  streams: OfferedStream[];
  /** Which of them the echo serves. */
  index: number;
  /** The transport profile, answered as offered (RTP/AVP or RTP/AVPF). */
  proto: string;
  /** The first offered codec's payload type, and its rtpmap / fmtp lines (without `a=`). */
  payloadType: string;
  rtpmap: string | undefined;
  fmtp: string | undefined;
  /** sendrecv, sendonly, recvonly or inactive (media level, else session level, else sendrecv). */
  direction: string;
  port: number;
}

const DIRECTIONS = new Set(['sendrecv', 'sendonly', 'recvonly', 'inactive']);
/** Plain RTP profiles; SRTP (RTP/SAVP...) needs keys the echo does not have, so it is declined. */
const PROFILES = new Set(['RTP/AVP', 'RTP/AVPF']);
/** Not codecs: a call with only these offered has no audio to echo. */
const NOT_CODECS = new Set(['telephone-event', 'cn', 'red']);
/** An SDP line: one letter, '=', then the value (RFC 4566 §5: no spaces around '='). */
const LINE = /^[a-z]=/;

/** The first usable audio stream of an SDP offer; undefined when it is malformed or has none. */
export function readAudioOffer(sdp: string): AudioOffer | undefined {
  const lines = sdp.split(/\r?\n/);
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  if (lines[0] !== 'v=0' || !lines.every((l) => LINE.test(l))) return undefined;
  // Session level: everything before the first m= line.
  let i = 0;
  let sessionDirection = 'sendrecv';
  let sessionConnection = false;
  for (; i < lines.length && !lines[i]!.startsWith('m='); i++) {
    const l = lines[i]!;
    if (l.startsWith('c=')) sessionConnection = true;
    else if (l.startsWith('a=') && DIRECTIONS.has(l.slice(2))) sessionDirection = l.slice(2);
  }
  if (!lines.some((l) => l.startsWith('o='))) return undefined;
  const streams: OfferedStream[] = [];
  let chosen: Omit<AudioOffer, 'streams'> | undefined;
  while (i < lines.length) {
    const stream = readMediaLine(lines[i]!);
    if (stream === undefined) return undefined;
    const attrs: string[] = [];
    let connection = sessionConnection;
    for (i++; i < lines.length && !lines[i]!.startsWith('m='); i++) {
      const l = lines[i]!;
      if (l.startsWith('c=')) connection = true;
      else if (l.startsWith('a=')) attrs.push(l.slice(2));
    }
    // RFC 4566 §5.7: a stream needs a c= line, its own or the session's.
    if (!connection) return undefined;
    if (chosen === undefined && stream.media === 'audio' && stream.port !== 0 && PROFILES.has(stream.proto)) {
      chosen = audioOf(stream, attrs, sessionDirection, streams.length);
    }
    streams.push(stream);
  }
  return chosen === undefined ? undefined : { streams, ...chosen };
}

/** `m=<media> <port>[/<count>] <proto> <fmt> ...`, or undefined when it is not one. */
function readMediaLine(line: string): OfferedStream | undefined {
  const parts = line.slice(2).split(' ');
  if (parts.length < 4 || parts.some((p) => p === '')) return undefined;
  const [media, portField, proto, ...formats] = parts as [string, string, string, ...string[]];
  const port = /^\d{1,5}(\/\d+)?$/.test(portField) ? Number(portField.split('/')[0]) : NaN;
  if (!(port <= 65535) || !/^[a-z]+$/i.test(media)) return undefined;
  // RTP profiles carry payload type numbers (RFC 3551).
  if (proto.startsWith('RTP/') && !formats.every((f) => /^\d{1,3}$/.test(f) && Number(f) <= 127)) return undefined;
  return { media: media.toLowerCase(), port, proto, formats };
}

/** The first real codec of an audio stream (telephone-event, CN, RED skipped), or undefined. */
function audioOf(stream: OfferedStream, attrs: string[], sessionDirection: string, index: number): Omit<AudioOffer, 'streams'> | undefined {
  let direction = sessionDirection;
  for (const a of attrs) if (DIRECTIONS.has(a)) direction = a;
  for (const pt of stream.formats) {
    const rtpmap = attrs.find((a) => a.startsWith(`rtpmap:${pt} `));
    const encoding = rtpmap?.slice(`rtpmap:${pt} `.length).split('/')[0]?.toLowerCase();
    // Without an rtpmap only RFC 3551's static audio types (0-18) name a codec; 13 is comfort noise.
    if (encoding !== undefined ? NOT_CODECS.has(encoding) : Number(pt) > 18 || pt === '13') continue;
    const fmtp = attrs.find((a) => a.startsWith(`fmtp:${pt} `));
    return { index, proto: stream.proto, payloadType: pt, rtpmap, fmtp, direction, port: stream.port };
  }
  return undefined;
}

/** Whether an SDP offer is a WebRTC one (an audio stream over DTLS-SRTP, RFC 5764 / RFC 8827). */
export function isWebRtcOffer(sdp: string): boolean {
  return /^m=audio [1-9]\d* UDP\/TLS\/RTP\/SAVPF /m.test(sdp);
}

/** The direction an answer gives to an offer's (RFC 3264 §6.1): hold (sendonly) is answered recvonly. */
export function answerDirection(offered: string): string {
  return offered === 'sendonly' ? 'recvonly' : offered === 'recvonly' ? 'sendonly' : offered === 'inactive' ? 'inactive' : 'sendrecv';
}

/** Whether our side sends media under `answered` direction (the echo reflects only then). */
export function sends(answered: string): boolean {
  return answered === 'sendrecv' || answered === 'sendonly';
}

/**
 * Our answer: the chosen audio stream on `port` of `host` with the first offered codec and the
 * direction mirrored; every other offered stream declined (port 0), in the offer's order.
 */
export function audioAnswer(offer: AudioOffer, host: string, port: number, version: number, sessionId: number): string {
  const ip = host.includes(':') ? 'IP6' : 'IP4';
  const lines = ['v=0', `o=nestjs-sip-echo ${sessionId} ${version} IN ${ip} ${host}`, 's=echo', `c=IN ${ip} ${host}`, 't=0 0'];
  offer.streams.forEach((s, i) => {
    if (i !== offer.index) {
      lines.push(`m=${s.media} 0 ${s.proto} ${s.formats[0]}`);
      return;
    }
    lines.push(`m=audio ${port} ${offer.proto} ${offer.payloadType}`);
    if (offer.rtpmap !== undefined) lines.push(`a=${offer.rtpmap}`);
    if (offer.fmtp !== undefined) lines.push(`a=${offer.fmtp}`);
    lines.push(`a=${answerDirection(offer.direction)}`);
  });
  return lines.join('\r\n') + '\r\n';
}
