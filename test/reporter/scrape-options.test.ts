import { describe, expect, it } from 'vitest';
import { counter, Telemeter } from '../../src/index.js';
import { thrown } from '../support/thrown.js';

describe('scrape and render options', () => {
  const telemeter = new Telemeter({ metrics: [counter('shop.orders', { measurement: 'value' })] });

  it('refuses an unknown format, and points a protobuf request at renderProtobuf', () => {
    const xml = thrown(() => telemeter.scrape({ format: 'xml' } as never));
    expect(xml.code).toBe('ERR_TELEMETER_INVALID_OPTION');
    expect(xml.message).toBe(`telemeter: scrape: option format must be 'text' or 'openmetrics', got "xml"`);
    const protobuf = thrown(() => telemeter.scrape({ format: 'protobuf' } as never));
    expect(protobuf.message).toContain('protobuf is bytes: use renderProtobuf()');
    expect([...telemeter.renderProtobuf()].length).toBeGreaterThan(0);
  });

  it('names the closest option of a misspelt one', () => {
    const error = thrown(() => telemeter.scrape({ createdSample: true } as never));
    expect(error.code).toBe('ERR_TELEMETER_UNKNOWN_OPTION');
    expect(error.message).toContain('did you mean createdSamples?');
  });
});
