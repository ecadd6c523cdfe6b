import { afterAll, describe, expect, it } from 'vitest';
import { counter, Telemeter } from '../../src/index.js';
import { deleteFromGateway, type PushToGatewayOptions, pushToGateway } from '../../src/pushgateway/index.js';
import { thrown } from '../support/thrown.js';

const telemeter = new Telemeter({ metrics: [counter('options.count', { eventName: 'options' })] });
afterAll(() => telemeter.close());

const base = { url: 'http://127.0.0.1:9091', job: 'nightly' };
const PUSH = 'telemeter/pushgateway: pushToGateway: ';

describe('pushToGateway options are checked at call time, naming the option', () => {
  // Each throws before any request is made: nothing listens on these ports, and no promise is returned.
  const invalid: Array<[string, unknown, string]> = [
    ['no job', { url: base.url }, 'option job must be a non-empty string, got undefined'],
    ['an empty job', { ...base, job: '' }, 'option job must be a non-empty string, got ""'],
    ['a job that is not a string', { ...base, job: 7 }, 'option job must be a non-empty string, got 7'],
    ['no url', { job: 'nightly' }, "option url must be the gateway's base URL"],
    ['a url that is no URL', { ...base, url: 'pushgateway:9091' }, 'option url must be http: or https:'],
    ['a relative url', { ...base, url: '/metrics' }, 'option url is not a URL: "/metrics"'],
    [
      'an ftp url',
      { ...base, url: 'ftp://127.0.0.1:9091' },
      'option url must be http: or https:, got "ftp:"',
    ],
    [
      'a url with a query',
      { ...base, url: 'http://127.0.0.1:9091/?x=1' },
      'option url must not have a query string',
    ],
    [
      'a url ending in /metrics',
      { ...base, url: 'http://127.0.0.1:9091/metrics' },
      "option url is the gateway's base URL, without /metrics or /metrics/job/…",
    ],
    [
      'a url with the group path',
      { ...base, url: 'http://127.0.0.1:9091/metrics/job/nightly' },
      "option url is the gateway's base URL, without /metrics or /metrics/job/…",
    ],
    [
      'a grouping label named job',
      { ...base, grouping: { job: 'other' } },
      "option grouping must not have a label 'job': the job option names the group's job",
    ],
    [
      'a grouping label name with a dash',
      { ...base, grouping: { 'data-set': 'x' } },
      'option grouping has an invalid label name "data-set"',
    ],
    [
      'a grouping label name starting with a digit',
      { ...base, grouping: { '1x': 'x' } },
      'option grouping has an invalid label name "1x"',
    ],
    [
      'a reserved grouping label name',
      { ...base, grouping: { __name__: 'x' } },
      'option grouping has an invalid label name "__name__"',
    ],
    ['a grouping array', { ...base, grouping: [['a', 'b']] }, 'option grouping must be an object'],
    [
      'a grouping value that is an object',
      { ...base, grouping: { shard: { id: 1 } } },
      'option grouping.shard must be a string, number or boolean, got an object',
    ],
    [
      'a grouping value with a lone surrogate',
      { ...base, grouping: { shard: 'a\uD800' } },
      'option grouping.shard must be well-formed Unicode',
    ],
    [
      'an unknown method',
      { ...base, method: 'delete' },
      "option method must be 'put' (replace the group) or 'post'",
    ],
    ['an upper-case method', { ...base, method: 'PUT' }, "option method must be 'put'"],
    [
      'another format',
      { ...base, format: 'json' },
      "option format must be 'text' or 'protobuf', got \"json\"",
    ],
    ['gzip as a string', { ...base, gzip: 'yes' }, 'option gzip must be true or false, got "yes"'],
    [
      'a zero timeout',
      { ...base, timeout: 0 },
      'option timeout must be an integer number of milliseconds >= 1, got 0',
    ],
    ['a fractional timeout', { ...base, timeout: 1.5 }, 'option timeout must be an integer'],
    [
      'a header that sets the body type',
      { ...base, headers: { 'Content-Type': 'x' } },
      'option headers.Content-Type is set by the push itself',
    ],
    [
      'a header name with a space',
      { ...base, headers: { 'x y': '1' } },
      'option headers has an invalid header name "x y"',
    ],
    [
      'a header value with a newline',
      { ...base, headers: { 'x-token': 'a\r\nb' } },
      'option headers.x-token must be a string without CR, LF or NUL',
    ],
    [
      'credentials in the url and a header',
      { ...base, url: 'http://u:p@127.0.0.1:9091', headers: { Authorization: 'Bearer t' } },
      'option headers.authorization and a user in option url both set the credentials',
    ],
  ];

  it.each(invalid)('%s', (_case, options, message) => {
    const error = thrown(() => pushToGateway(telemeter, options as PushToGatewayOptions));
    expect(error).toBeInstanceOf(TypeError);
    expect(error.code).toBe('ERR_TELEMETER_INVALID_OPTION');
    expect(error.message).toContain(`${PUSH}${message}`);
  });

  it('names the closest valid key of an unknown option', () => {
    const error = thrown(() => pushToGateway(telemeter, { ...base, groupings: {} } as never));
    expect(error.code).toBe('ERR_TELEMETER_UNKNOWN_OPTION');
    expect(error.message).toContain(`${PUSH}option groupings is unknown (did you mean grouping?`);
  });

  it('needs a Telemeter, or anything with its render generator', () => {
    for (const source of [undefined, null, {}, 'telemeter']) {
      const error = thrown(() => pushToGateway(source as never, base));
      expect(error.code).toBe('ERR_TELEMETER_INVALID_ARGUMENT');
      expect(error.message).toMatch(
        /^telemeter\/pushgateway: pushToGateway needs a Telemeter as its first argument/,
      );
    }
  });

  it("refuses format 'protobuf' for a source that renders only text", () => {
    const textOnly = { render: () => ['# EOF\n'] };
    const error = thrown(() => pushToGateway(textOnly, { ...base, format: 'protobuf' }));
    expect(error.code).toBe('ERR_TELEMETER_INVALID_ARGUMENT');
    expect(error.message).toContain("option format 'protobuf' needs a source with renderProtobuf");
  });

  it('deleteFromGateway checks the same group options, and refuses the push-only ones', () => {
    const noJob = thrown(() => deleteFromGateway({ url: base.url } as never));
    expect(noJob.code).toBe('ERR_TELEMETER_INVALID_OPTION');
    expect(noJob.message).toBe(
      'telemeter/pushgateway: deleteFromGateway: option job must be a non-empty string, got undefined',
    );
    const method = thrown(() => deleteFromGateway({ ...base, method: 'put' } as never));
    expect(method.code).toBe('ERR_TELEMETER_UNKNOWN_OPTION');
    expect(method.message).toContain('deleteFromGateway: option method is unknown');
  });
});
