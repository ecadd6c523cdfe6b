/**
 * The label block of a series: its labels as both text formats write them between braces
 * (`route="/cart",status="200"`), rendered once when the series is created and decoded by readers that want pairs.
 */

/** Escapes a label value for both text formats: backslash, double quote and line feed. */
export function escapeLabelValue(value: string): string {
  return /[\\"\n]/.test(value) ? value.replace(/[\\"\n]/g, escapeChar) : value;
}

function escapeChar(c: string): string {
  return c === '\n' ? '\\n' : `\\${c}`;
}

/**
 * Calls `visit` with each name and value of a rendered label block (`route="/cart",status="200"`, as a series
 * stores it, global tags included), undoing the escapes of {@link escapeLabelValue}.
 */
export function forEachLabel(block: string, visit: (name: string, value: string) => void): void {
  let i = 0;
  while (i < block.length) {
    const eq = block.indexOf('="', i);
    if (eq < 0) break;
    const name = block.slice(i, eq);
    let value = '';
    let from = eq + 2;
    let j = from;
    while (j < block.length && block.charCodeAt(j) !== QUOTE) {
      if (block.charCodeAt(j) === BACKSLASH && j + 1 < block.length) {
        const next = block[j + 1];
        value += block.slice(from, j) + (next === 'n' ? '\n' : next);
        j += 2;
        from = j;
      } else j++;
    }
    visit(name, value + block.slice(from, j));
    i = j + 2; // past the closing quote and the comma
  }
}

const QUOTE = 34;
const BACKSLASH = 92;

/**
 * Builds the function that renders a series' label block. Labels are sorted by name; global tags are
 * escaped once, here, and a metric's own tag of the same name wins over a global one.
 */
export function labelRenderer(
  tagNames: readonly string[],
  globalTags: Readonly<Record<string, string>>,
): (values: readonly string[]) => string {
  const parts: Array<{ name: string; tagIndex: number; fixed: string }> = [];
  tagNames.forEach((name, tagIndex) => {
    parts.push({ name, tagIndex, fixed: '' });
  });
  for (const [name, value] of Object.entries(globalTags)) {
    if (tagNames.includes(name)) continue;
    parts.push({ name, tagIndex: -1, fixed: `${name}="${escapeLabelValue(value)}"` });
  }
  parts.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  // Built with join, which makes one flat string: `+=` would leave a tree of pieces that every series keeps
  // until something reads it.
  return (values) =>
    parts
      .map((part) =>
        part.tagIndex < 0 ? part.fixed : `${part.name}="${escapeLabelValue(values[part.tagIndex])}"`,
      )
      .join(',');
}
