/**
 * The wire writer, judged by protobufjs (a standard protobuf library): every field kind decoded by a schema
 * protobufjs parsed itself, at the edge values of each encoding.
 */
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { ProtobufWriter, varintSize, zigzag } from '../../src/protobuf/index.js';

const { root } = protobuf.parse(`
  syntax = "proto3";
  message Scalars {
    uint64 u = 1;
    int64 i = 2;
    sint64 s = 3;
    bool b = 4;
    double d = 5;
    fixed64 f = 6;
    string text = 7;
    bytes raw = 8;
    repeated double ds = 9;
    repeated uint64 us = 10;
    repeated sint64 ss = 11;
    Scalars child = 12;
    repeated Scalars children = 13;
    sfixed64 sf = 14;
    repeated fixed64 fs = 15;
  }
`);
const Scalars = root.lookupType('Scalars');

type Decoded = Record<string, unknown>;

function decode(bytes: Uint8Array): Decoded {
  return Scalars.toObject(Scalars.decode(bytes), { longs: String, bytes: Array, defaults: false }) as Decoded;
}

function written(write: (w: ProtobufWriter) => void, capacity?: number): Uint8Array {
  const writer = new ProtobufWriter(capacity);
  write(writer);
  return writer.finish();
}

describe('ProtobufWriter', () => {
  it('writes varints at every length boundary, up to 2^53', () => {
    const values = [
      0,
      1,
      127,
      128,
      16383,
      16384,
      2 ** 21 - 1,
      2 ** 21,
      2 ** 28,
      2 ** 32 - 1,
      2 ** 32,
      2 ** 35,
      2 ** 53 - 1,
    ];
    for (const u of values) {
      const bytes = written((w) => w.uint(1, u));
      expect(decode(bytes).u ?? '0').toBe(String(u));
      expect(bytes.length).toBe(1 + varintSize(u));
    }
  });

  it('writes negative int64 in ten bytes, and sint64 as zigzag', () => {
    for (const i of [-1, -2, -128, -(2 ** 31), -(2 ** 32), -(2 ** 52), 5, 2 ** 40]) {
      expect(decode(written((w) => w.int(2, i))).i).toBe(String(i));
      expect(decode(written((w) => w.sint(3, i))).s).toBe(String(i));
    }
    expect(written((w) => w.int(2, -1)).length).toBe(11);
    expect([0, -1, 1, -2, 2].map(zigzag)).toEqual([0, 1, 2, 3, 4]);
  });

  it('writes doubles bit for bit, NaN and infinities included', () => {
    for (const d of [0, -0, 1.5, -1e-300, Number.MAX_VALUE, Number.MIN_VALUE, Infinity, -Infinity]) {
      const view = new DataView(written((w) => w.double(5, d)).buffer);
      expect(Object.is(view.getFloat64(1, true), d)).toBe(true);
    }
    const nan = Scalars.decode(written((w) => w.double(5, Number.NaN))) as unknown as { d: number };
    expect(nan.d).toBeNaN();
  });

  it('writes fixed64 from numbers up to 2^53 and from bigints up to 2^64', () => {
    expect(decode(written((w) => w.fixed64(6, 2 ** 53 - 1))).f).toBe(String(2 ** 53 - 1));
    expect(decode(written((w) => w.fixed64(6, 4_294_967_297))).f).toBe('4294967297');
    const nanos = 1_765_000_000_123_456_789n;
    expect(decode(written((w) => w.fixed64(6, nanos))).f).toBe(String(nanos));
    expect(decode(written((w) => w.fixed64(6, 2n ** 64n - 1n))).f).toBe(String(2n ** 64n - 1n));
  });

  it("writes sfixed64 in two's complement, from numbers and bigints, and packed fixed64 lists", () => {
    for (const v of [-1, -2, -(2 ** 40) - 3, 7, 0]) {
      expect(decode(written((w) => w.fixed64(14, v))).sf ?? '0').toBe(String(v));
    }
    expect(decode(written((w) => w.fixed64(14, -(2n ** 63n)))).sf).toBe(String(-(2n ** 63n)));
    const packed = decode(written((w) => w.packedFixed64s(15, [0, 1, 2 ** 40, 2 ** 53 - 1])));
    expect(packed.fs).toEqual(['0', '1', String(2 ** 40), String(2 ** 53 - 1)]);
    expect(decode(written((w) => w.packedFixed64s(15, [5n, 2n ** 64n - 1n]))).fs).toEqual([
      '5',
      String(2n ** 64n - 1n),
    ]);
    expect(written((w) => w.packedFixed64s(15, [])).length).toBe(0);
  });

  it('writes booleans', () => {
    expect(decode(written((w) => w.bool(4, true))).b).toBe(true);
    expect(decode(written((w) => w.bool(4, false))).b).toBeUndefined();
  });

  it('writes strings as UTF-8: ASCII, multi-byte, long, and lone surrogates as U+FFFD', () => {
    const cases = [
      '',
      'a',
      'x'.repeat(63),
      'x'.repeat(64),
      'y'.repeat(200),
      'é',
      '花火 😱',
      `${'é'.repeat(70)}`,
      'a\uD800b',
    ];
    for (const text of cases) {
      const bytes = written((w) => w.string(7, text));
      expect(decode(bytes).text ?? '').toBe(text.toWellFormed());
      expect(bytes.length).toBe(
        1 + varintSize(Buffer.byteLength(text.toWellFormed())) + Buffer.byteLength(text.toWellFormed()),
      );
    }
  });

  it('writes bytes and packed repeated fields; an empty list writes nothing', () => {
    expect(decode(written((w) => w.bytes(8, new Uint8Array([0, 255, 7])))).raw).toEqual([0, 255, 7]);
    const packed = decode(
      written((w) => {
        w.packedDoubles(9, [1.5, Number.NEGATIVE_INFINITY, 0]);
        w.packedUints(10, new Float64Array([0, 300, 2 ** 40]));
        w.packedSints(11, [-3, 0, 70000]);
      }),
    );
    expect(packed.ds).toEqual([1.5, Number.NEGATIVE_INFINITY, 0]);
    expect(packed.us).toEqual(['0', '300', String(2 ** 40)]);
    expect(packed.ss).toEqual(['-3', '0', '70000']);
    expect(
      written((w) => {
        w.packedDoubles(9, []);
        w.packedUints(10, []);
        w.packedSints(11, []);
      }).length,
    ).toBe(0);
  });

  it('nests messages whose sizes cross each varint length, moving them back over the unused prefix', () => {
    for (const size of [0, 1, 125, 126, 127, 128, 16_380, 16_384, 70_000, 2_100_000]) {
      const text = 'z'.repeat(size);
      const bytes = written((w) => {
        const outer = w.beginMessage(12);
        const inner = w.beginMessage(12);
        w.string(7, text);
        w.endMessage(inner);
        w.uint(1, 9);
        w.endMessage(outer);
      }, 16);
      const decoded = decode(bytes) as { child: { child: { text?: string }; u: string } };
      expect(decoded.child.u).toBe('9');
      expect(decoded.child.child.text ?? '').toBe(text);
      // No padding: exactly what a one-pass encoder of known sizes writes.
      const innerLength = 1 + varintSize(size) + size;
      const outerLength = 1 + varintSize(innerLength) + innerLength + 2;
      expect(bytes.length).toBe(1 + varintSize(outerLength) + outerLength);
    }
  });

  it('frames a length-delimited stream of messages with field -1 (no tag)', () => {
    const bytes = written((w) => {
      for (let i = 0; i < 3; i++) {
        const message = w.beginMessage(-1);
        w.uint(1, i + 1);
        for (let c = 0; c < i * 100; c++) w.string(7, 'abc');
        w.endMessage(message);
      }
    });
    const reader = protobuf.Reader.create(bytes);
    const seen: string[] = [];
    while (reader.pos < reader.len)
      seen.push(String((Scalars.decodeDelimited(reader) as unknown as Decoded).u));
    expect(seen).toEqual(['1', '2', '3']);
  });

  it('decodes the same as protobufjs encoding the same object', () => {
    const object = {
      u: 300,
      i: -7,
      s: -70,
      b: true,
      d: 0.1,
      text: 'route="/cart"',
      children: [{ u: 1 }, { text: 'é' }],
    };
    const ours = written((w) => {
      w.uint(1, 300);
      w.int(2, -7);
      w.sint(3, -70);
      w.bool(4, true);
      w.double(5, 0.1);
      w.string(7, 'route="/cart"');
      let m = w.beginMessage(13);
      w.uint(1, 1);
      w.endMessage(m);
      m = w.beginMessage(13);
      w.string(7, 'é');
      w.endMessage(m);
    });
    expect(Buffer.from(ours)).toEqual(Buffer.from(Scalars.encode(Scalars.fromObject(object)).finish()));
  });

  it('finish() hands out a copy and empties the writer; reset() forgets an open message', () => {
    const writer = new ProtobufWriter(16);
    writer.uint(1, 5);
    const first = writer.finish();
    expect(writer.length).toBe(0);
    writer.uint(1, 6);
    expect(Array.from(first)).toEqual([8, 5]);
    expect(Array.from(writer.finish())).toEqual([8, 6]);
    writer.beginMessage(12);
    expect(writer.depth).toBe(1);
    expect(() => writer.finish()).toThrow(/still open/);
    writer.reset();
    expect(writer.depth).toBe(0);
    expect(writer.finish().length).toBe(0);
  });

  it('refuses messages closed out of order and negative varints', () => {
    const writer = new ProtobufWriter();
    const outer = writer.beginMessage(12);
    writer.beginMessage(12);
    expect(() => writer.endMessage(outer)).toThrow(/out of order/);
    expect(() => new ProtobufWriter().uint(1, -1)).toThrow(RangeError);
    expect(() => new ProtobufWriter().uint(1, Number.NaN)).toThrow(RangeError);
  });

  it('the TSDoc example writes 29 bytes that decode as a MetricFamily-shaped message', () => {
    const writer = new ProtobufWriter();
    writer.string(1, 'requests_total');
    const metric = writer.beginMessage(4);
    const counter = writer.beginMessage(3);
    writer.double(1, 42);
    writer.endMessage(counter);
    writer.endMessage(metric);
    expect(writer.length).toBe(29);
  });
});
