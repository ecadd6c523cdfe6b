/**
 * A protocol buffers wire writer with no dependencies: what the Prometheus protobuf exposition and the OTLP
 * exporter encode with. It knows the wire format (varints, zigzag, fixed 64-bit, length-delimited fields), not any
 * schema: callers write field by field, in field-number order as protobuf encoders do.
 *
 * Nested messages are written in place. {@link ProtobufWriter.beginMessage} leaves room for a length prefix and
 * {@link ProtobufWriter.endMessage} fills it in, so a message is never encoded twice to learn its size. The room
 * is a guess the caller makes (one byte unless told): when the length needs more or fewer bytes, the message is
 * moved once, when it ends, which costs a copy, not a second encoding.
 *
 * ```
 * import { ProtobufWriter } from '../protobuf/index.js';
 *
 * const writer = new ProtobufWriter();
 * writer.string(1, 'requests_total'); // MetricFamily.name
 * const metric = writer.beginMessage(4); // MetricFamily.metric
 * const counter = writer.beginMessage(3); // Metric.counter
 * writer.double(1, 42); // Counter.value
 * writer.endMessage(counter);
 * writer.endMessage(metric);
 * console.log(writer.length); //=> 29
 * ```
 *
 * @packageDocumentation
 */

/** Wire types (the low three bits of a field's tag). */
const VARINT = 0;
const FIXED64 = 1;
const LENGTH_DELIMITED = 2;

/** The longest length prefix: a varint of up to 2^35 - 1, more than a Uint8Array holds. */
const LENGTH_PREFIX_BYTES = 5;

const TWO_POW_32 = 2 ** 32;

/**
 * An open nested message: where its reserved length prefix starts. Returned by
 * {@link ProtobufWriter.beginMessage}, passed back to {@link ProtobufWriter.endMessage}.
 */
export type MessageMark = number;

/**
 * Encodes protobuf fields into a growable byte buffer. Values are JS numbers: 64-bit integer fields are exact up
 * to 2^53 (counts, milliseconds since the epoch). Nanoseconds since the epoch are above 2^53: pass a `bigint` to
 * {@link fixed64} to write them exactly, or accept the nearest double (256 ns apart today). Strings are written
 * as UTF-8, a lone surrogate as U+FFFD.
 *
 * Nothing here validates a schema; a field written with the wrong method decodes as garbage or fails to decode.
 * Methods throw only on a programming error (a negative value for an unsigned field, a mark closed out of
 * order), never because of the data's size.
 */
export class ProtobufWriter {
  private buffer: Uint8Array;
  private view: DataView;
  private position = 0;
  private readonly open: number[] = [];

  /** @param initialCapacity bytes to allocate up front; the buffer doubles whenever it fills. */
  constructor(initialCapacity = 64 * 1024) {
    this.buffer = new Uint8Array(Math.max(16, initialCapacity));
    this.view = new DataView(this.buffer.buffer);
  }

  /** Bytes written since the last {@link reset} (or construction). */
  get length(): number {
    return this.position;
  }

  /** Nested messages begun and not yet ended. */
  get depth(): number {
    return this.open.length;
  }

  /**
   * A copy of the bytes written so far, then an empty writer that keeps its buffer: what a streaming encoder
   * hands out as a chunk before writing the next. Throws if a nested message is still open.
   */
  finish(): Uint8Array {
    if (this.open.length > 0) throw new Error('ProtobufWriter: finish() with a nested message still open');
    const chunk = this.buffer.slice(0, this.position);
    this.position = 0;
    return chunk;
  }

  /** Forgets everything written, keeping the buffer for reuse. */
  reset(): void {
    this.position = 0;
    this.open.length = 0;
  }

  // Fields. Each writes its tag (field number and wire type) and then its value.

  /** `uint32`, `uint64`, `int32` or `int64` with a value ≥ 0, `bool` (0 or 1), `enum`: a varint. */
  uint(field: number, value: number): void {
    this.tag(field, VARINT);
    this.varint(value);
  }

  /**
   * `int32` or `int64` that may be negative: a negative value takes ten bytes, as the wire format says (use
   * {@link sint} for `sint32`/`sint64` fields, which encode small negative numbers small).
   */
  int(field: number, value: number): void {
    this.tag(field, VARINT);
    if (value >= 0) this.varint(value);
    else this.negativeVarint(value);
  }

  /** `sint32` or `sint64`: a zigzag varint, exact for magnitudes up to 2^52. */
  sint(field: number, value: number): void {
    this.tag(field, VARINT);
    this.varint(zigzag(value));
  }

  /** `bool`. */
  bool(field: number, value: boolean): void {
    this.tag(field, VARINT);
    this.byte(value ? 1 : 0);
  }

  /** `double`: eight bytes, little-endian. */
  double(field: number, value: number): void {
    this.tag(field, FIXED64);
    this.ensure(8);
    this.view.setFloat64(this.position, value, true);
    this.position += 8;
  }

  /**
   * `fixed64` or `sfixed64`: eight bytes, little-endian, two's complement for a negative value. A number is exact
   * up to 2^53 in magnitude; a `bigint` (nanoseconds since the epoch, `process.hrtime.bigint()` arithmetic) is
   * exact over the whole 64 bits.
   */
  fixed64(field: number, value: number | bigint): void {
    this.tag(field, FIXED64);
    this.fixed64Value(value);
  }

  /** A `repeated` `fixed64`/`sfixed64` field, packed (OTLP's `bucket_counts`). Writes nothing for an empty list. */
  packedFixed64s(field: number, values: ArrayLike<number> | readonly bigint[]): void {
    if (values.length === 0) return;
    this.tag(field, LENGTH_DELIMITED);
    this.varint(values.length * 8);
    for (let i = 0; i < values.length; i++) this.fixed64Value(values[i]);
  }

  /** `string`: length-delimited UTF-8. */
  string(field: number, value: string): void {
    this.tag(field, LENGTH_DELIMITED);
    // Most strings here (names, label values) are short ASCII: copying code units beats TextEncoder's call cost.
    if (value.length < 64) {
      this.ensure(value.length * 3 + LENGTH_PREFIX_BYTES);
      const lengthAt = this.position;
      this.position++;
      let ascii = true;
      for (let i = 0; i < value.length; i++) {
        const c = value.charCodeAt(i);
        if (c >= 0x80) {
          ascii = false;
          break;
        }
        this.buffer[this.position++] = c;
      }
      if (ascii) {
        this.buffer[lengthAt] = value.length;
        return;
      }
      this.position = lengthAt;
    }
    this.ensure(value.length * 3 + LENGTH_PREFIX_BYTES);
    const start = this.position + LENGTH_PREFIX_BYTES;
    const { written } = encoder.encodeInto(value, this.buffer.subarray(start));
    this.placeLength(this.position, start, written);
  }

  /** `bytes`: length-delimited, copied as they are. */
  bytes(field: number, value: Uint8Array): void {
    this.tag(field, LENGTH_DELIMITED);
    this.varint(value.length);
    this.ensure(value.length);
    this.buffer.set(value, this.position);
    this.position += value.length;
  }

  /**
   * A `repeated` `double` field, packed (proto3's default, and what proto2 decoders accept as well): one tag, a
   * length, and eight bytes per value. Writes nothing for an empty list.
   */
  packedDoubles(field: number, values: ArrayLike<number>): void {
    if (values.length === 0) return;
    this.tag(field, LENGTH_DELIMITED);
    this.varint(values.length * 8);
    this.ensure(values.length * 8);
    for (let i = 0; i < values.length; i++) {
      this.view.setFloat64(this.position, values[i], true);
      this.position += 8;
    }
  }

  /** A `repeated` unsigned varint field (`uint64`, ...), packed. Writes nothing for an empty list. */
  packedUints(field: number, values: ArrayLike<number>): void {
    if (values.length === 0) return;
    const mark = this.beginMessage(field);
    for (let i = 0; i < values.length; i++) this.varint(values[i]);
    this.endMessage(mark);
  }

  /** A `repeated` `sint32`/`sint64` field, packed (zigzag varints). Writes nothing for an empty list. */
  packedSints(field: number, values: ArrayLike<number>): void {
    if (values.length === 0) return;
    const mark = this.beginMessage(field);
    for (let i = 0; i < values.length; i++) this.varint(zigzag(values[i]));
    this.endMessage(mark);
  }

  /**
   * Begins a nested message (or any length-delimited field written piecewise) as field `field`; write its
   * fields, then close it with {@link endMessage}. With `field` -1 no tag is written: only the length prefix, as
   * a length-delimited stream of messages (the Prometheus exposition's `encoding=delimited`) frames each one.
   *
   * `lengthBytes` (1 to 5, default 1) is the room left for the length: 1 for a message under 128 bytes, 2 under
   * 16 KiB, 3 under 2 MiB. A message whose length needs another size is moved once when it ends, so a wrong
   * guess costs a copy of the message, never a wrong encoding.
   */
  beginMessage(field: number, lengthBytes = 1): MessageMark {
    if (field >= 0) this.tag(field, LENGTH_DELIMITED);
    this.ensure(LENGTH_PREFIX_BYTES);
    const at = this.position;
    this.position += lengthBytes;
    const mark = at * 8 + lengthBytes;
    this.open.push(mark);
    return mark;
  }

  /** Ends the message `mark` began: writes its length before it, moving its bytes if the length did not fit. */
  endMessage(mark: MessageMark): void {
    const last = this.open.pop();
    if (last !== mark) throw new Error('ProtobufWriter: endMessage() out of order');
    const reserved = mark % 8;
    const at = (mark - reserved) / 8;
    const start = at + reserved;
    this.placeLength(at, start, this.position - start);
  }

  /** A field's tag: its number and wire type. */
  tag(field: number, wireType: number): void {
    this.varint(field * 8 + wireType);
  }

  /** A bare unsigned varint (no tag): for callers that frame something themselves. */
  varint(value: number): void {
    if (!(value >= 0)) throw new RangeError(`ProtobufWriter: varint of ${value}`);
    this.ensure(10);
    const buffer = this.buffer;
    let position = this.position;
    if (value < TWO_POW_32) {
      let v = value >>> 0;
      while (v > 0x7f) {
        buffer[position++] = (v & 0x7f) | 0x80;
        v >>>= 7;
      }
      buffer[position++] = v;
    } else {
      let v = Math.floor(value);
      while (v > 0x7f) {
        buffer[position++] = (v % 128) | 0x80;
        v = Math.floor(v / 128);
      }
      buffer[position++] = v;
    }
    this.position = position;
  }

  private fixed64Value(value: number | bigint): void {
    this.ensure(8);
    if (typeof value === 'bigint') {
      this.view.setBigUint64(this.position, BigInt.asUintN(64, value), true);
    } else if (value >= 0) {
      const low = value % TWO_POW_32;
      this.view.setUint32(this.position, low, true);
      this.view.setUint32(this.position + 4, (value - low) / TWO_POW_32, true);
    } else {
      this.view.setBigInt64(this.position, BigInt(Math.trunc(value)), true);
    }
    this.position += 8;
  }

  private byte(value: number): void {
    this.ensure(1);
    this.buffer[this.position++] = value;
  }

  /** A negative int32/int64 as its 64-bit two's complement: ten bytes. */
  private negativeVarint(value: number): void {
    this.ensure(10);
    const magnitude = -value;
    let low = magnitude % TWO_POW_32;
    let high = (magnitude - low) / TWO_POW_32;
    // Two's complement of (high, low): invert and add one.
    low = ~low >>> 0;
    high = ~high >>> 0;
    low = (low + 1) >>> 0;
    if (low === 0) high = (high + 1) >>> 0;
    for (let i = 0; i < 9; i++) {
      this.buffer[this.position++] = (low & 0x7f) | 0x80;
      low = ((low >>> 7) | (high << 25)) >>> 0;
      high >>>= 7;
    }
    this.buffer[this.position++] = low & 0x01;
  }

  /**
   * Writes `length` as a varint at `at`, where the content (`length` bytes) starts at `contentStart`, moving the
   * content to follow the varint directly when the room left for it was not the varint's size.
   */
  private placeLength(at: number, contentStart: number, length: number): void {
    const size = length < 0x80 ? 1 : length < 0x4000 ? 2 : varintSize(length);
    const end = at + size + length;
    if (at + size !== contentStart) {
      if (end > this.buffer.length) this.ensure(end - this.position);
      this.buffer.copyWithin(at + size, contentStart, contentStart + length);
    }
    const buffer = this.buffer;
    let position = at;
    let v = length;
    while (v > 0x7f) {
      buffer[position++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    buffer[position] = v;
    this.position = end;
  }

  private ensure(bytes: number): void {
    const needed = this.position + bytes;
    if (needed <= this.buffer.length) return;
    let capacity = this.buffer.length * 2;
    while (capacity < needed) capacity *= 2;
    const grown = new Uint8Array(capacity);
    grown.set(this.buffer.subarray(0, this.position));
    this.buffer = grown;
    this.view = new DataView(grown.buffer);
  }
}

const encoder = new TextEncoder();

/** Zigzag encoding of a signed integer (`sint32`/`sint64`): 0, -1, 1, -2, ... → 0, 1, 2, 3, ... */
export function zigzag(value: number): number {
  return value >= 0 ? value * 2 : -value * 2 - 1;
}

/** Bytes a varint of `value` takes (1 to 10). */
export function varintSize(value: number): number {
  let size = 1;
  let v = value;
  while (v >= 128) {
    v = Math.floor(v / 128);
    size++;
  }
  return size;
}
