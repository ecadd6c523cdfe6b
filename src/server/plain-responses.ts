import { type IncomingMessage, type ServerResponse, STATUS_CODES } from 'node:http';

/** Headers on every answer: nothing is cached by intermediaries, nothing is sniffed as HTML. */
export const BASE_HEADERS: Readonly<Record<string, string>> = {
  'Cache-Control': 'no-store',
  'X-Content-Type-Options': 'nosniff',
};

/**
 * Answers with the bare reason phrase of `status` (`Unauthorized`, `Service Unavailable`, ...), so an
 * error never reveals a metric, a credential or the configuration. Returns the body bytes sent.
 */
export function sendStatus(
  req: IncomingMessage,
  res: ServerResponse,
  status: number,
  headers: Record<string, string | string[]> = {},
): number {
  if (res.headersSent) {
    res.destroy();
    return 0;
  }
  const body = `${STATUS_CODES[status] ?? 'Error'}\n`;
  const bytes = Buffer.byteLength(body);
  res.writeHead(status, {
    ...BASE_HEADERS,
    ...headers,
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': String(bytes),
  });
  if (req.method === 'HEAD') {
    res.end();
    return 0;
  }
  res.end(body);
  return bytes;
}
