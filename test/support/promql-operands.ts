/**
 * Reading a PromQL expression just enough to judge it against a real Prometheus: a condition (`a > b`,
 * `up == 0`) is normally empty, so a test asks whether its left operand has data, and which metrics that reads.
 */

/** The left operand of the first comparison outside parentheses, brackets, braces and strings; else undefined. */
export function conditionOperand(expr: string): string | undefined {
  let depth = 0;
  for (let i = 0; i < expr.length; i++) {
    const c = expr[i];
    if (c === '"' || c === "'" || c === '`') {
      for (i++; i < expr.length && expr[i] !== c; i++) if (expr[i] === '\\' && c !== '`') i++;
    } else if (c === '(' || c === '[' || c === '{') depth++;
    else if (c === ')' || c === ']' || c === '}') depth--;
    else if (depth === 0) {
      const two = expr.slice(i, i + 2);
      if (two === '==' || two === '!=' || two === '>=' || two === '<=' || c === '>' || c === '<') {
        return expr.slice(0, i).trim();
      }
    }
  }
  return undefined;
}

/** Metric names an expression selects (a name followed by `{` or `[`), strings left out. */
export function metricsRead(expr: string): string[] {
  const code = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  return [...new Set([...code.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(?=[{[])/g)].map((m) => m[1]))];
}
