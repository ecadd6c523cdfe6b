import { invalidArgument } from '../errors.js';
/** A value the emitter can write: what a Prometheus rule file is made of. */
export type YamlValue =
  | string
  | number
  | boolean
  | readonly YamlValue[]
  | { readonly [key: string]: YamlValue };

const PLAIN_KEY = /^[A-Za-z_][A-Za-z0-9_-]*$/;

/**
 * Writes block-style YAML for maps, sequences and scalars. Every string is double-quoted with JSON's
 * escapes, which YAML's double-quoted style accepts unchanged, so no value can be mistaken for a number,
 * a boolean, a comment or a key, and Go templates (`{{ $labels.job }}`) pass through verbatim.
 */
export function toYaml(value: YamlValue): string {
  return `${emit(value, 0).join('\n')}\n`;
}

function emit(value: YamlValue, indent: number): string[] {
  const pad = ' '.repeat(indent);
  if (Array.isArray(value)) {
    if (value.length === 0) return [`${pad}[]`];
    const lines: string[] = [];
    for (const item of value as readonly YamlValue[]) {
      if (isBlock(item)) {
        const inner = emit(item, indent + 2);
        // The first key sits on the dash line: `- alert: X`.
        lines.push(`${pad}- ${inner[0].slice(indent + 2)}`, ...inner.slice(1));
      } else {
        lines.push(`${pad}- ${scalar(item)}`);
      }
    }
    return lines;
  }
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, YamlValue>);
    if (entries.length === 0) return [`${pad}{}`];
    const lines: string[] = [];
    for (const [key, item] of entries) {
      const name = PLAIN_KEY.test(key) ? key : JSON.stringify(key);
      if (isBlock(item)) lines.push(`${pad}${name}:`, ...emit(item, indent + 2));
      else lines.push(`${pad}${name}: ${scalar(item)}`);
    }
    return lines;
  }
  return [`${pad}${scalar(value)}`];
}

function isBlock(value: YamlValue): boolean {
  if (Array.isArray(value)) return value.length > 0;
  return typeof value === 'object' && Object.keys(value).length > 0;
}

function scalar(value: YamlValue): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) invalidArgument(`telemeter: toYaml: cannot write the number ${value}`);
    return String(value);
  }
  if (typeof value === 'boolean') return String(value);
  return Array.isArray(value) ? '[]' : '{}';
}
