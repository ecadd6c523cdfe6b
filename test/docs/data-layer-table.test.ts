/**
 * docs/databases.md has one table with every metric of the four data-layer integrations (issue 15 asks for "one
 * table"): it must list exactly the families that pgMetrics(), mysql2Metrics(), redisMetrics() and bullmqMetrics()
 * define, each with its Prometheus type and its labels, so the table cannot drift from the code.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { bullmqMetrics } from '../../src/bullmq/index.js';
import { mysql2Metrics } from '../../src/mysql2/index.js';
import { pgMetrics } from '../../src/pg/index.js';
import { redisMetrics } from '../../src/redis/index.js';

const HEADING = '## Every data-layer metric in one table';

interface Row {
  readonly type: string;
  readonly labels: string[];
}

/** The table's rows by Prometheus name; a label is a backticked name outside parentheses in the Labels column. */
function tableRows(markdown: string): Map<string, Row> {
  const start = markdown.indexOf(HEADING);
  if (start < 0) throw new Error(`docs/databases.md has no "${HEADING}" section`);
  const section = markdown.slice(start + HEADING.length).split(/\n## /)[0];
  const rows = new Map<string, Row>();
  for (const line of section.split('\n')) {
    const cells = line.split('|').map((cell) => cell.trim());
    const name = /^`([a-z_]+)`$/.exec(cells[1] ?? '')?.[1];
    if (name === undefined) continue;
    const labels = [...cells[3].replace(/\([^)]*\)/g, '').matchAll(/`([a-z_]+)`/g)].map((m) => m[1]);
    rows.set(name, { type: cells[2], labels });
  }
  return rows;
}

function prometheusType(definition: { type: string; reporterOptions?: { prometheusType?: string } }): string {
  if (definition.reporterOptions?.prometheusType !== undefined)
    return definition.reporterOptions.prometheusType;
  return (
    {
      counter: 'counter',
      sum: 'counter',
      last_value: 'gauge',
      distribution: 'histogram',
      summary: 'summary',
    }[definition.type] ?? definition.type
  );
}

describe('the one table of data-layer metrics in docs/databases.md', () => {
  const rows = tableRows(readFileSync(new URL('../../docs/databases.md', import.meta.url), 'utf8'));
  const definitions = [
    ...new Set([...pgMetrics(), ...mysql2Metrics(), ...redisMetrics(), ...bullmqMetrics()]),
  ] as unknown as Array<{
    name: string;
    type: string;
    tags: string[];
    reporterOptions?: { prometheusType?: string };
  }>;

  it('lists exactly the families the four integrations define', () => {
    expect([...rows.keys()].sort()).toEqual(definitions.map((d) => d.name).sort());
  });

  it.each(definitions.map((d) => [d.name, d] as const))(
    'gives %s its type and labels',
    (_name, definition) => {
      const row = rows.get(definition.name);
      expect(row?.type).toBe(prometheusType(definition));
      expect(row?.labels).toEqual(definition.tags);
    },
  );

  it('fails for a table that misses a family or a label', () => {
    const broken = tableRows(
      `${HEADING}\n\n| name | type | labels |\n|---|---|---|\n| \`bullmq_queue_jobs\` | gauge | \`queue\` (\`state\` dropped) |\n`,
    );
    expect([...broken.keys()]).toEqual(['bullmq_queue_jobs']);
    expect(broken.get('bullmq_queue_jobs')?.labels).toEqual(['queue']);
  });
});
