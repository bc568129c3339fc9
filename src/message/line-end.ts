import { SipParseError } from './errors.js';

/**
 * Where the header line starting at `pos` ends (its CR; `he` when the header text ends first), by
 * two native searches (faster than one scan of the bytes in JS). A bare LF or CR in the line is refused
 * (copied into a response, Call-ID, To..., it would end the line early for a peer that splits on
 * either one, and what follows would read as headers of our own: response splitting).
 */
export function lineEndAt(text: string, pos: number, he: number): number {
  let e = text.indexOf('\n', pos);
  if (e !== -1 && text.charCodeAt(e - 1) !== 13 && (he < 0 || e < he)) throw new SipParseError('Bare LF in a header line');
  if (he >= 0) e = e === -1 || e - 1 > he ? he : e - 1;
  else if (e === -1) throw new SipParseError('Incomplete message');
  else e--;
  const cr = text.indexOf('\r', pos);
  if (cr !== -1 && cr < e) throw new SipParseError('Bare CR in a header line');
  return e;
}
