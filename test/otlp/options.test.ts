/**
 * startOtlp's options and the OTEL_* variables: precedence (options, then per-signal variables, then general
 * ones, then defaults), the endpoint rules (the metrics endpoint as it is, the general one with /v1/metrics),
 * the resource merge, and start-up errors that name the option. Invalid variables warn and are ignored.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Telemeter } from '../../src/index.js';
import { parseKeyValueList, readOtlpEnvironment } from '../../src/otlp/environment.js';
import { startOtlp } from '../../src/otlp/index.js';
import { resolveOtlpOptions } from '../../src/otlp/options.js';
import { TELEMETER_VERSION } from '../../src/otlp/resource.js';
import { thrown } from '../support/thrown.js';

describe('OTEL_* variables', () => {
  it('uses the metrics endpoint as it is, and appends /v1/metrics to the general one', () => {
    expect(readOtlpEnvironment({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }).url).toBe(
      'http://collector:4318/v1/metrics',
    );
    expect(readOtlpEnvironment({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://prom:9090/api/v1/otlp/' }).url).toBe(
      'http://prom:9090/api/v1/otlp/v1/metrics',
    );
    expect(
      readOtlpEnvironment({
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318',
        OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: 'http://other:9999/custom',
      }).url,
    ).toBe('http://other:9999/custom');
  });

  it('reads headers, protocol, compression, timeouts, interval and temporality; the metrics variables win', () => {
    const env = readOtlpEnvironment({
      OTEL_EXPORTER_OTLP_HEADERS: 'Authorization=Bearer%20abc,x-team=a',
      OTEL_EXPORTER_OTLP_METRICS_HEADERS: 'x-team=b',
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_EXPORTER_OTLP_METRICS_COMPRESSION: 'none',
      OTEL_EXPORTER_OTLP_TIMEOUT: '2500',
      OTEL_METRIC_EXPORT_INTERVAL: '15000',
      OTEL_METRIC_EXPORT_TIMEOUT: '5000',
      OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE: 'LowMemory',
    });
    expect(env.headers).toEqual({ authorization: 'Bearer abc', 'x-team': 'b' });
    expect(env.protocol).toBe('http/json');
    expect(env.compression).toBe('none');
    expect(env.timeout).toBe(2500);
    expect(env.interval).toBe(15000);
    expect(env.exportTimeout).toBe(5000);
    expect(env.temporality).toBe('delta');
    expect(env.warnings).toEqual([]);
  });

  it('warns about and ignores what it cannot use, instead of throwing', () => {
    const env = readOtlpEnvironment({
      OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
      OTEL_EXPORTER_OTLP_TIMEOUT: 'ten',
      OTEL_RESOURCE_ATTRIBUTES: 'a=1,broken',
      OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318',
    });
    expect(env.protocol).toBeUndefined();
    expect(env.timeout).toBeUndefined();
    expect(env.resourceAttributes).toEqual({});
    expect(env.url).toBeUndefined();
    expect(env.warnings).toHaveLength(4);
  });

  it('decodes percent-encoded key=value lists and refuses malformed ones whole', () => {
    expect(parseKeyValueList('k1=v1, k%2C2 = v%3D2,')).toEqual([
      ['k1', 'v1'],
      ['k,2', 'v=2'],
    ]);
    expect(parseKeyValueList('a=1,=2')).toBeUndefined();
    expect(parseKeyValueList('a=%E0%A4%A')).toBeUndefined();
  });
});

describe('resolveOtlpOptions', () => {
  it('defaults: localhost:4318, protobuf, gzip, cumulative, 60 s, and the resource every SDK must send', () => {
    const resolved = resolveOtlpOptions({ env: {} });
    expect(resolved).toMatchObject({
      url: 'http://localhost:4318/v1/metrics',
      format: 'protobuf',
      gzip: true,
      temporality: 'cumulative',
      interval: 60_000,
      timeout: 10_000,
      exportTimeout: 30_000,
    });
    const resource = Object.fromEntries(resolved.resource);
    expect(resource['service.name']).toMatch(/^unknown_service:node/);
    expect(resource['telemetry.sdk.language']).toBe('nodejs');
  });

  it('merges the resource: option over OTEL_SERVICE_NAME over OTEL_RESOURCE_ATTRIBUTES', () => {
    const resource = (options: Parameters<typeof resolveOtlpOptions>[0]) =>
      Object.fromEntries(resolveOtlpOptions(options).resource);
    const env = { OTEL_RESOURCE_ATTRIBUTES: 'service.name=a,team=core', OTEL_SERVICE_NAME: 'b' };
    expect(resource({ env })).toMatchObject({ 'service.name': 'b', team: 'core' });
    expect(resource({ env, resource: { 'service.name': 'c' } })).toMatchObject({
      'service.name': 'c',
      team: 'core',
    });
  });

  it('takes options over variables', () => {
    const resolved = resolveOtlpOptions({
      url: 'http://127.0.0.1:1/v1/metrics',
      format: 'protobuf',
      gzip: true,
      temporality: 'cumulative',
      env: {
        OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: 'http://elsewhere/v1/metrics',
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
        OTEL_EXPORTER_OTLP_COMPRESSION: 'none',
        OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE: 'delta',
      },
    });
    expect(resolved).toMatchObject({
      url: 'http://127.0.0.1:1/v1/metrics',
      format: 'protobuf',
      gzip: true,
      temporality: 'cumulative',
    });
  });

  it.each([
    [{ url: 'grpc://collector:4317' }, 'option url must be http: or https:'],
    [{ url: 'http://user:secret@collector:4318/v1/metrics' }, 'option url must not hold credentials'],
    [{ temporality: 'lowmemory' }, "option temporality must be 'cumulative' or 'delta'"],
    [{ format: 'xml' }, "option format must be 'protobuf' or 'json'"],
    [{ interval: 0 }, 'option interval must be an integer number of milliseconds'],
    [{ headers: { 'content-type': 'x' } }, 'option headers.content-type is set by the exporter itself'],
    [{ resource: { 'service.name': null } }, 'option resource.service.name must be a string'],
    [{ retryDelay: 10, maxRetryDelay: 5 }, 'option retryDelay (10) must not exceed maxRetryDelay (5)'],
    [{ maxQueuedExports: 0 }, 'option maxQueuedExports must be an integer >= 1'],
  ])('refuses %j at start-up, naming the option', (options, message) => {
    const error = thrown(() => resolveOtlpOptions({ env: {}, ...(options as object) }));
    expect(error).toMatchObject({ code: 'ERR_TELEMETER_INVALID_OPTION' });
    expect((error as Error).message).toContain(`telemeter/otlp: startOtlp: ${message}`);
  });

  it('names the closest option for a typo', () => {
    expect(thrown(() => resolveOtlpOptions({ env: {}, intervall: 5 } as never))).toMatchObject({
      code: 'ERR_TELEMETER_UNKNOWN_OPTION',
      message: expect.stringContaining('did you mean interval?'),
    });
  });

  it('needs a Telemeter', () => {
    expect(thrown(() => startOtlp({} as never, { env: {} }))).toMatchObject({
      code: 'ERR_TELEMETER_INVALID_ARGUMENT',
    });
  });

  it('exports nothing under OTEL_SDK_DISABLED=true', async () => {
    const telemeter = new Telemeter({ metrics: [], selfMetrics: false, logger: { warn() {}, error() {} } });
    const push = startOtlp(telemeter, {
      env: { OTEL_SDK_DISABLED: 'true' },
      url: 'http://127.0.0.1:1/v1/metrics',
    });
    expect(await push.flush()).toBe(true);
    expect(push.queued).toBe(0);
    expect(await push.stop()).toBe(true);
    telemeter.close();
  });
});

it('sends the package version as telemetry.sdk.version', () => {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
  expect(TELEMETER_VERSION).toBe(pkg.version);
});
