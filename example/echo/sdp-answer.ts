/** What the echo needs from an SDP offer (RFC 4566, RFC 3264): its first audio stream. */
export interface AudioOffer {
  /** The first payload type offered, and its rtpmap / fmtp lines (without `a=`). */
  payloadType: string;
  rtpmap: string | undefined;
  fmtp: string | undefined;
  /** sendrecv, sendonly, recvonly or inactive (media level, else session level, else sendrecv). */
  direction: string;
  /** The offered port: 0 means the stream is declined. */
  port: number;
}

const DIRECTIONS = new Set(['sendrecv', 'sendonly', 'recvonly', 'inactive']);

/** The first audio stream of an SDP offer, or undefined when there is none (or it is not SDP). */
export function readAudioOffer(sdp: string): AudioOffer | undefined {
  const lines = sdp.split(/\r?\n/);
  if (lines[0]?.trim() !== 'v=0') return undefined;
  let sessionDirection = 'sendrecv';
  let i = 0;
  for (; i < lines.length && !lines[i]!.startsWith('m='); i++) {
    const a = lines[i]!.trim();
    if (a.startsWith('a=') && DIRECTIONS.has(a.slice(2))) sessionDirection = a.slice(2);
  }
  for (; i < lines.length; i++) {
    const m = lines[i]!.trim();
    if (!m.startsWith('m=audio ')) continue;
    const parts = m.slice(2).split(/\s+/);
    const port = Number(parts[1]);
    const payloadType = parts[3];
    if (!Number.isInteger(port) || port < 0 || port > 65535 || payloadType === undefined || !/^\d{1,3}$/.test(payloadType)) return undefined;
    let rtpmap: string | undefined;
    let fmtp: string | undefined;
    let direction = sessionDirection;
    for (let j = i + 1; j < lines.length && !lines[j]!.startsWith('m='); j++) {
      const a = lines[j]!.trim();
      if (a.startsWith(`a=rtpmap:${payloadType} `)) rtpmap = a.slice(2);
      else if (a.startsWith(`a=fmtp:${payloadType} `)) fmtp = a.slice(2);
      else if (a.startsWith('a=') && DIRECTIONS.has(a.slice(2))) direction = a.slice(2);
    }
    return { payloadType, rtpmap, fmtp, direction, port };
  }
  return undefined;
}

/** The direction an answer gives to an offer's (RFC 3264 §6.1): we send what they receive. */
const ANSWER_DIRECTION: Record<string, string> = { sendrecv: 'sendrecv', sendonly: 'recvonly', recvonly: 'sendonly', inactive: 'inactive' };

/** Our answer: the first offered codec on `port` of `host`, the direction mirrored. */
export function audioAnswer(offer: AudioOffer, host: string, port: number, version: number, sessionId: number): string {
  const ip = host.includes(':') ? 'IP6' : 'IP4';
  const lines = [
    'v=0',
    `o=nestjs-sip-echo ${sessionId} ${version} IN ${ip} ${host}`,
    's=echo',
    `c=IN ${ip} ${host}`,
    't=0 0',
    `m=audio ${offer.port === 0 ? 0 : port} RTP/AVP ${offer.payloadType}`,
  ];
  if (offer.rtpmap !== undefined) lines.push(`a=${offer.rtpmap}`);
  if (offer.fmtp !== undefined) lines.push(`a=${offer.fmtp}`);
  lines.push(`a=${ANSWER_DIRECTION[offer.direction] ?? 'sendrecv'}`);
  return lines.join('\r\n') + '\r\n';
}
