/**
 * A small PromQL scanner for assertions: the vector selectors of an expression (metric name and the raw
 * text of its `{…}` matchers), skipping functions, aggregation clauses (`by (…)`), ranges and strings.
 * It is written independently of src/dashboard so the tests do not grade the generator with its own code.
 */
export interface Selector {
  readonly name: string;
  /** The text between the braces, or undefined for a bare name. */
  readonly matchers: string | undefined;
}

const KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'offset']);
const LABEL_LIST_KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);

export function selectorsOf(expr: string): Selector[] {
  const result: Selector[] = [];
  let i = 0;
  const skipSpace = () => {
    while (i < expr.length && /\s/.test(expr[i])) i++;
  };
  const skipGroup = (open: string, close: string): string => {
    const start = i;
    let depth = 0;
    while (i < expr.length) {
      const c = expr[i];
      if (c === '"' || c === "'" || c === '`') {
        skipString(c);
        continue;
      }
      if (c === open) depth++;
      if (c === close) {
        depth--;
        if (depth === 0) {
          i++;
          return expr.slice(start + 1, i - 1);
        }
      }
      i++;
    }
    throw new Error(`unbalanced ${open} in ${expr}`);
  };
  const skipString = (quote: string) => {
    i++;
    while (i < expr.length && expr[i] !== quote) i += expr[i] === '\\' ? 2 : 1;
    i++;
  };
  while (i < expr.length) {
    const c = expr[i];
    if (/\s/.test(c)) {
      i++;
    } else if (c === '"' || c === "'" || c === '`') {
      skipString(c);
    } else if (c === '[') {
      skipGroup('[', ']');
    } else if (c === '{') {
      result.push({ name: '', matchers: skipGroup('{', '}') });
    } else if (/[0-9]/.test(c)) {
      const m = /^\d+(\.\d+)?([eE][+-]?\d+)?/.exec(expr.slice(i));
      i += m ? m[0].length : 1;
    } else if (/[a-zA-Z_:]/.test(c)) {
      const name = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(expr.slice(i))![0];
      i += name.length;
      skipSpace();
      if (LABEL_LIST_KEYWORDS.has(name)) {
        if (expr[i] === '(') skipGroup('(', ')');
      } else if (KEYWORDS.has(name)) {
        // an operator
      } else if (expr[i] === '(' || /^(by|without)\b/.test(expr.slice(i))) {
        // a function, or an aggregation (`sum by (…) (…)`): the loop scans its arguments
      } else if (expr[i] === '{') {
        result.push({ name, matchers: skipGroup('{', '}') });
      } else {
        result.push({ name, matchers: undefined });
      }
    } else {
      i++;
    }
  }
  return result;
}
