import { describe, expect, it } from 'vitest';
import { acceptsGzip, negotiateEscaping, negotiateFormat } from '../../src/server/index.js';

const PROMETHEUS_2_42 =
  'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';
const PROMETHEUS_3 =
  'application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1';
const VICTORIA_METRICS = 'text/plain;version=0.0.4;q=1,*/*;q=0.1';
// REFERENCE §11.7, observed verbatim from Debian's Prometheus 2.42 with --enable-feature=native-histograms.
const PROMETHEUS_2_42_NATIVE =
  'application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited,application/openmetrics-text;version=1.0.0;q=0.8,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';
// Prometheus 3 builds Accept from scrape_protocols, in their order, q falling by 0.1 from 1 (q omitted at 1):
// [PrometheusProto, OpenMetricsText1.0.0, OpenMetricsText0.0.1, PrometheusText1.0.0, PrometheusText0.0.4].
const PROMETHEUS_3_PROTO_FIRST =
  'application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;escaping=allow-utf-8,application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.9,application/openmetrics-text;version=0.0.1;q=0.8,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.7,text/plain;version=0.0.4;q=0.6,*/*;q=0.5';
const PROMETHEUS_3_PROTO_LAST =
  'application/openmetrics-text;version=1.0.0;escaping=allow-utf-8,application/openmetrics-text;version=0.0.1;q=0.9,text/plain;version=0.0.4;q=0.8,application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.7,*/*;q=0.6';
const PROTOBUF = 'application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited';

describe('negotiateFormat', () => {
  it.each([
    ['Prometheus 2.42', PROMETHEUS_2_42, 'openmetrics'],
    ['Prometheus 3 (escaping=allow-utf-8)', PROMETHEUS_3, 'openmetrics'],
    ['VictoriaMetrics', VICTORIA_METRICS, 'text'],
    ['curl */*', '*/*', 'text'],
    ['no Accept', undefined, 'text'],
    ['empty Accept', '', 'text'],
    ['a browser', 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8', 'text'],
    ['OpenMetrics only', 'application/openmetrics-text', 'openmetrics'],
    ['OpenMetrics 0.0.1 only', 'application/openmetrics-text; version=0.0.1', 'openmetrics'],
    ['application/*', 'application/*', 'openmetrics'],
    ['text preferred by q', 'application/openmetrics-text;q=0.5, text/plain;q=0.9', 'text'],
    ['OpenMetrics preferred by q', 'text/plain;q=0.4, application/openmetrics-text;q=0.6', 'openmetrics'],
    ['OpenMetrics refused', 'application/openmetrics-text;q=0, */*', 'text'],
    ['unknown OpenMetrics version', 'application/openmetrics-text;version=9.9.9, text/plain;q=0.1', 'text'],
    ['equal q, OpenMetrics listed first', 'application/openmetrics-text, text/plain', 'openmetrics'],
    ['equal q, text listed first', 'text/plain, application/openmetrics-text', 'text'],
    [
      'quoted parameters and spaces',
      'application/openmetrics-text ; version="1.0.0" ; charset=utf-8',
      'openmetrics',
    ],
    ['invalid q is ignored', 'application/openmetrics-text;q=2', 'text'],
    ['upper case', 'APPLICATION/OPENMETRICS-TEXT;VERSION=1.0.0', 'openmetrics'],
    ['nonsense', ',,;;/;q=,', 'text'],
    ['Prometheus 2.42 with native histograms', PROMETHEUS_2_42_NATIVE, 'protobuf'],
    ['Prometheus 3, scrape_protocols with PrometheusProto first', PROMETHEUS_3_PROTO_FIRST, 'protobuf'],
    ['Prometheus 3, PrometheusProto after the text formats', PROMETHEUS_3_PROTO_LAST, 'openmetrics'],
    ['protobuf alone', PROTOBUF, 'protobuf'],
    ['protobuf without parameters', 'application/vnd.google.protobuf', 'protobuf'],
    [
      'protobuf, upper case and spaces',
      'Application/Vnd.Google.Protobuf ; Proto="io.prometheus.client.MetricFamily"',
      'protobuf',
    ],
    [
      'protobuf of another message',
      'application/vnd.google.protobuf;proto=foo.Bar;encoding=delimited',
      'text',
    ],
    [
      'protobuf text encoding (old)',
      'application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=text',
      'text',
    ],
    ['protobuf refused', `${PROTOBUF};q=0,text/plain;q=0.5`, 'text'],
    ['protobuf with an invalid q', `${PROTOBUF};q=1.5,text/plain;version=0.0.4;q=0.5`, 'text'],
    [
      'protobuf preferred less than OpenMetrics',
      `${PROTOBUF};q=0.5,application/openmetrics-text`,
      'openmetrics',
    ],
    ['text listed before protobuf at equal q', `text/plain, ${PROTOBUF}`, 'text'],
    ['application/* never picks protobuf', 'application/*', 'openmetrics'],
    ['*/* never picks protobuf', '*/*;q=1', 'text'],
  ])('%s → %s', (_name, accept, expected) => {
    expect(negotiateFormat(accept)).toBe(expected);
  });

  it.each([
    ['Prometheus 2.42 with native histograms', PROMETHEUS_2_42_NATIVE, 'openmetrics'],
    ['Prometheus 3, PrometheusProto first', PROMETHEUS_3_PROTO_FIRST, 'openmetrics'],
    ['protobuf alone', PROTOBUF, 'text'],
  ])('without protobuf on offer, %s → %s', (_name, accept, expected) => {
    expect(negotiateFormat(accept, { protobuf: false })).toBe(expected);
  });
});

describe('negotiateEscaping', () => {
  it.each([
    ['Prometheus 3', PROMETHEUS_3, 'allow-utf-8'],
    ['Prometheus 3, PrometheusProto first', PROMETHEUS_3_PROTO_FIRST, 'allow-utf-8'],
    ['Prometheus 2.42', PROMETHEUS_2_42, undefined],
    ['VictoriaMetrics', VICTORIA_METRICS, undefined],
    ['no Accept', undefined, undefined],
    ['underscores', 'application/openmetrics-text;version=1.0.0;escaping=underscores', 'underscores'],
    ['values', 'application/openmetrics-text;version=1.0.0;escaping=values', 'values'],
    // Telemeter does not rewrite valid names the dots way (a_b → a__b): it answers underscores.
    ['dots', 'application/openmetrics-text;version=1.0.0;escaping=dots', 'underscores'],
    ['quoted and upper case', 'application/openmetrics-text; ESCAPING="Allow-UTF-8"', 'allow-utf-8'],
    ['an unknown scheme is ignored', 'application/openmetrics-text;escaping=rot13', undefined],
    [
      'the first known value wins',
      'text/plain;escaping=nope,application/openmetrics-text;escaping=values',
      'values',
    ],
    [
      'a range with an invalid q is dropped, escaping and all',
      'application/openmetrics-text;escaping=underscores;q=7',
      undefined,
    ],
  ])('%s → %s', (_name, accept, expected) => {
    expect(negotiateEscaping(accept)).toBe(expected);
  });
});

describe('acceptsGzip', () => {
  it.each([
    ['gzip', true],
    ['gzip, deflate, br', true],
    ['deflate, br', false],
    ['x-gzip', true],
    ['*', true],
    ['*;q=0', false],
    ['gzip;q=0, *', false],
    ['gzip;q=0.001', true],
    ['identity', false],
    ['', false],
    [undefined, false],
  ])('%s → %s', (header, expected) => {
    expect(acceptsGzip(header)).toBe(expected);
  });
});
