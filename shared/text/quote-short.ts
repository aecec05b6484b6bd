/**
 * Strings from outside (field names, fingerprints, addresses) end up in error
 * messages, logs and gRPC trailers. Quoting them whole lets one request make
 * a 1 MB message or break HTTP/2's header limit, so they are quoted as a
 * short JSON-escaped prefix (control characters escaped) with their length.
 */
export const QUOTE_MAX_CHARS = 64;

export function quoteShort(text: string, maxChars: number = QUOTE_MAX_CHARS): string {
  if (text.length <= maxChars) return JSON.stringify(text);
  return `${JSON.stringify(text.slice(0, maxChars))}… (${text.length} characters)`;
}

/** Cuts a message to at most `maxChars`, saying how much was left out. */
export function boundText(text: string, maxChars: number): string {
  if (text.length <= maxChars) return text;
  const note = ` … (${text.length - maxChars} more characters)`;
  return text.slice(0, Math.max(0, maxChars - note.length)) + note;
}
