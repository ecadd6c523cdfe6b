/** A section's result: a titled markdown table with notes printed under it. */
export interface Table {
  readonly title: string;
  readonly header: readonly string[];
  readonly rows: readonly (readonly string[])[];
  readonly notes?: readonly string[];
  /** Leading columns that hold text and are left-aligned; the rest are right-aligned figures. Default 1. */
  readonly textColumns?: number;
}

/** A goal from the issue, checked against this run's figures. */
export interface GoalCheck {
  readonly goal: string;
  readonly measured: string;
  readonly met: boolean | undefined;
}

/** What a section hands back to the runner. */
export interface SectionResult {
  readonly tables: readonly Table[];
  readonly goals: readonly GoalCheck[];
}

export function markdownTable(table: Table): string {
  const lines = [`### ${table.title}`, ''];
  lines.push(`| ${table.header.join(' | ')} |`);
  const textColumns = table.textColumns ?? 1;
  lines.push(`|${table.header.map((_, i) => (i < textColumns ? '---' : '---:')).join('|')}|`);
  for (const row of table.rows) lines.push(`| ${row.join(' | ')} |`);
  if (table.notes !== undefined && table.notes.length > 0) {
    lines.push('');
    for (const note of table.notes) lines.push(`- ${note}`);
  }
  lines.push('');
  return lines.join('\n');
}

export function goalsTable(goals: readonly GoalCheck[]): Table {
  return {
    title: 'Goals from the issue',
    header: ['goal', 'measured', 'met'],
    textColumns: 3,
    rows: goals.map((g) => [g.goal, g.measured, g.met === undefined ? 'not measured' : g.met ? 'yes' : 'NO']),
  };
}

/** Nanoseconds with three significant digits. */
export function ns(value: number): string {
  if (!Number.isFinite(value)) return 'n/a';
  return value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2);
}

/** Operations per second as millions. */
export function mops(nsPerOp: number): string {
  if (!(nsPerOp > 0)) return 'n/a';
  const perSecond = 1e9 / nsPerOp;
  return perSecond >= 1e7 ? `${(perSecond / 1e6).toFixed(0)} M` : `${(perSecond / 1e6).toFixed(2)} M`;
}

/** A ratio written as "12.3×". */
export function times(ratio: number): string {
  if (!Number.isFinite(ratio)) return 'n/a';
  return ratio >= 100
    ? `${ratio.toFixed(0)}×`
    : ratio >= 10
      ? `${ratio.toFixed(1)}×`
      : `${ratio.toFixed(2)}×`;
}

export function ms(value: number): string {
  if (!Number.isFinite(value)) return 'n/a';
  return value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2);
}

export function mib(bytes: number): string {
  if (!Number.isFinite(bytes)) return 'n/a';
  return (bytes / (1024 * 1024)).toFixed(bytes >= 100 * 1024 * 1024 ? 0 : 1);
}

export function bytesPerUnit(value: number | undefined): string {
  if (value === undefined || !Number.isFinite(value)) return 'n/a';
  return value >= 10 ? value.toFixed(0) : value.toFixed(1);
}

/** Relative half-spread of a timing, as "±4%". */
export function spread(min: number, max: number, median: number): string {
  if (!(median > 0)) return '';
  return `±${Math.round(((max - min) / 2 / median) * 100)}%`;
}
