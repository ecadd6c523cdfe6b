import type { Line } from './lines.js';

/** Lines joined by `\n` into one datagram, and the lines it carries (committed once it is sent). */
export interface Packet {
  readonly payload: Buffer;
  readonly lines: readonly Line[];
}

/**
 * Packs lines greedily, in order, into packets of at most `mtu` bytes (UTF-8, newlines included, no trailing
 * newline). A line that alone is longer than `mtu` can never be sent: it is handed to `tooLong` instead.
 */
export function packLines(lines: readonly Line[], mtu: number, tooLong: (line: Line) => void): Packet[] {
  const packets: Packet[] = [];
  let current: Line[] = [];
  let bytes = 0;
  const close = () => {
    if (current.length === 0) return;
    const payload = Buffer.from(current.map((l) => l.text).join('\n'));
    packets.push({ payload, lines: current });
    current = [];
    bytes = 0;
  };
  for (const line of lines) {
    if (line.bytes > mtu) {
      tooLong(line);
      continue;
    }
    if (current.length > 0 && bytes + 1 + line.bytes > mtu) close();
    bytes += (current.length > 0 ? 1 : 0) + line.bytes;
    current.push(line);
  }
  close();
  return packets;
}
