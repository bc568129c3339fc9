import { parseMessage, type SipRequest } from 'nestjs-sip';

export interface RegisterInit {
  aor?: string;
  callId?: string;
  cseq?: number;
  contacts?: string[];
  expires?: number;
}

/** A REGISTER as a phone would send it (parsed from wire text, as the server gets it). */
export function registerRequest(o: RegisterInit = {}): SipRequest {
  const aor = o.aor ?? 'sip:alice@example.test';
  const lines = [
    'REGISTER sip:example.test SIP/2.0',
    `Via: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK${Math.random().toString(36).slice(2)}`,
    `From: <${aor}>;tag=f1`,
    `To: <${aor}>`,
    `Call-ID: ${o.callId ?? 'call-1'}`,
    `CSeq: ${o.cseq ?? 1} REGISTER`,
    'Max-Forwards: 70',
    ...(o.contacts ?? []).map((c) => `Contact: ${c}`),
    ...(o.expires === undefined ? [] : [`Expires: ${o.expires}`]),
    'Content-Length: 0',
  ];
  const m = parseMessage(lines.join('\r\n') + '\r\n\r\n');
  if (!('method' in m)) throw new Error('not a request');
  return m as SipRequest;
}
