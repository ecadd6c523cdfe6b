/**
 * The Python prometheus_client parsers as judges.
 *
 * - `parseOpenMetricsStrict`: `prometheus_client.openmetrics.parser` (OpenMetrics 1.0). It checks
 *   `# EOF`, blank lines, counter `_total`, unit suffixes, histogram bucket order/`+Inf`/count,
 *   metric grouping, metadata-after-samples, escapes in label values, and more. Note: it accepts a
 *   body without a LF after `# EOF` (the OpenMetrics ABNF makes that LF optional).
 * - `parsePrometheusText`: `prometheus_client.parser` (0.0.4), lenient; handy for reading values
 *   back. It strips `_total` from counter family names (`foo_total` -> family `foo`).
 *
 * Both run under /usr/bin/python3 explicitly, in isolated mode (-I), since a pyenv python3 on PATH
 * cannot import Debian's dist-packages. Input bytes are decoded as UTF-8 strictly.
 */
import { PYTHON3, runTool } from './tools.js';

export interface ParsedSample {
  name: string;
  labels: Record<string, string>;
  value: number;
  /** Seconds since the epoch, when the sample carried a timestamp. */
  timestamp?: number;
  exemplar?: { labels: Record<string, string>; value: number; timestamp?: number };
}

export interface ParsedFamily {
  name: string;
  type: string;
  unit: string;
  help: string;
  samples: ParsedSample[];
}

export interface ParseResult {
  ok: boolean;
  /** `ExceptionType: message` from the parser when ok is false. */
  error?: string;
  families?: ParsedFamily[];
}

// Exit codes: 0 parsed, 1 the body was rejected, 2 the harness itself is broken (e.g. import failed).
const SCRIPT = String.raw`
import json, math, sys
try:
    mode = sys.argv[1]
    if mode == 'openmetrics':
        from prometheus_client.openmetrics.parser import text_string_to_metric_families
    elif mode == 'text':
        from prometheus_client.parser import text_string_to_metric_families
    else:
        raise RuntimeError('unknown mode ' + repr(mode))
except Exception as e:
    sys.stderr.write('HARNESS %s: %s\n' % (type(e).__name__, e))
    sys.exit(2)

def num(v):
    v = float(v)
    if math.isnan(v):
        return 'NaN'
    if math.isinf(v):
        return '+Inf' if v > 0 else '-Inf'
    return v

def sample(s):
    out = {'name': s.name, 'labels': dict(s.labels), 'value': num(s.value)}
    if s.timestamp is not None:
        out['timestamp'] = float(s.timestamp)
    ex = getattr(s, 'exemplar', None)
    if ex is not None:
        e = {'labels': dict(ex.labels), 'value': num(ex.value)}
        if ex.timestamp is not None:
            e['timestamp'] = float(ex.timestamp)
        out['exemplar'] = e
    return out

try:
    text = sys.stdin.buffer.read().decode('utf-8', 'strict')
    families = list(text_string_to_metric_families(text))
except Exception as e:
    msg = '%s: %s' % (type(e).__name__, e)
    sys.stderr.buffer.write(msg.encode('utf-8', 'backslashreplace') + b'\n')
    sys.exit(1)

out = [{'name': f.name, 'type': f.type, 'unit': f.unit, 'help': f.documentation,
        'samples': [sample(s) for s in f.samples]} for f in families]
sys.stdout.write(json.dumps(out, allow_nan=False))
sys.stdout.write('\n')
`;

function toNumber(v: number | string): number {
  if (typeof v === 'number') return v;
  if (v === 'NaN') return Number.NaN;
  if (v === '+Inf') return Number.POSITIVE_INFINITY;
  if (v === '-Inf') return Number.NEGATIVE_INFINITY;
  throw new Error(`unexpected encoded number ${JSON.stringify(v)}`);
}

function decode(json: string): ParsedFamily[] {
  const raw = JSON.parse(json) as any[];
  return raw.map((f) => ({
    ...f,
    samples: f.samples.map((s: any) => ({
      ...s,
      value: toNumber(s.value),
      ...(s.exemplar ? { exemplar: { ...s.exemplar, value: toNumber(s.exemplar.value) } } : {}),
    })),
  }));
}

async function runParser(mode: 'openmetrics' | 'text', body: string | Buffer): Promise<ParseResult> {
  const { code, stdout, stderr } = await runTool(PYTHON3, ['-I', '-c', SCRIPT, mode], { input: body });
  if (code === 0) return { ok: true, families: decode(stdout) };
  if (code === 1) return { ok: false, error: stderr.trim() };
  throw new Error(`python prometheus_client judge is broken (exit ${code}): ${stderr.trim()}`);
}

/** Strict OpenMetrics 1.0 parse. Throws only when the judge itself cannot run. */
export function parseOpenMetricsStrict(body: string | Buffer): Promise<ParseResult> {
  return runParser('openmetrics', body);
}

/** Lenient Prometheus 0.0.4 text parse (for reading values back). */
export function parsePrometheusText(body: string | Buffer): Promise<ParseResult> {
  return runParser('text', body);
}
