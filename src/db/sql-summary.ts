/**
 * A conservative reading of SQL text for labels: the statement's operation (`SELECT`, `INSERT`, …) and its
 * first table, nothing else. It never copies text from inside a string literal, a quoted value, a number or a
 * comment, so no parameter or literal value can reach a label, and when the statement is not one it
 * understands it answers `''` rather than guess.
 */

/** What {@link summarizeSql} reads from a statement. */
export interface SqlSummary {
  /** The statement's operation, uppercased (`SELECT`, `INSERT`, `BEGIN`, …), or `''` when not a known keyword. */
  readonly operation: string;
  /** The first table the statement reads or writes (`orders`, `shop.orders`), or `''` when not a plain name. */
  readonly table: string;
}

// The first keywords that name an operation. Anything else (a typo, a vendor verb not listed) gives ''.
const OPERATIONS = new Set([
  'SELECT',
  'INSERT',
  'UPDATE',
  'DELETE',
  'MERGE',
  'UPSERT',
  'REPLACE',
  'WITH',
  'VALUES',
  'TABLE',
  'BEGIN',
  'START',
  'COMMIT',
  'END',
  'ROLLBACK',
  'ABORT',
  'SAVEPOINT',
  'RELEASE',
  'PREPARE',
  'EXECUTE',
  'DEALLOCATE',
  'CALL',
  'DO',
  'CREATE',
  'ALTER',
  'DROP',
  'TRUNCATE',
  'RENAME',
  'COMMENT',
  'GRANT',
  'REVOKE',
  'SET',
  'RESET',
  'SHOW',
  'USE',
  'DESCRIBE',
  'DESC',
  'EXPLAIN',
  'ANALYZE',
  'ANALYSE',
  'VACUUM',
  'REINDEX',
  'CLUSTER',
  'REFRESH',
  'CHECKPOINT',
  'DISCARD',
  'COPY',
  'LOCK',
  'UNLOCK',
  'LISTEN',
  'UNLISTEN',
  'NOTIFY',
  'DECLARE',
  'FETCH',
  'MOVE',
  'CLOSE',
  'LOAD',
  'OPTIMIZE',
  'FLUSH',
  'KILL',
  'HANDLER',
]);

// Statements a WITH clause can lead to; the first of them at the top level is the main statement.
const WITH_TARGETS = new Set(['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'MERGE', 'VALUES', 'TABLE']);
// Words that may stand between the keyword that introduces a table and the table itself.
const TABLE_MODIFIERS = new Set([
  'ONLY',
  'LOW_PRIORITY',
  'DELAYED',
  'HIGH_PRIORITY',
  'IGNORE',
  'QUICK',
  'IF',
  'NOT',
  'EXISTS',
  'TEMP',
  'TEMPORARY',
  'UNLOGGED',
  'GLOBAL',
  'LOCAL',
]);
// Statements whose table follows the keyword TABLE (CREATE TABLE t, DROP TABLE IF EXISTS t, TRUNCATE TABLE t).
const DDL_OPERATIONS = new Set(['CREATE', 'ALTER', 'DROP', 'TRUNCATE']);

/** Longest identifier part kept (PostgreSQL's NAMEDATALEN − 1, MySQL's limit is 64). */
const MAX_PART = 64;
/** Statements longer than this are summarised but not cached, so the cache holds bounded memory. */
const MAX_CACHED_TEXT = 4096;
/** How many distinct statements the cache remembers: prepared and parameterised statements repeat. */
const CACHE_SIZE = 1000;

const EMPTY: SqlSummary = Object.freeze({ operation: '', table: '' });
const cache = new Map<string, SqlSummary>();

/**
 * The operation and first table of `sql`. Comments are skipped; literals, quoted values, numbers and
 * placeholders are never read into the answer. The table is the first one after `FROM`, `INTO`, `UPDATE`,
 * `JOIN` or `TABLE` at the statement's top level (not in a subquery), and only when it is a plain identifier,
 * optionally schema-qualified and quoted (`"Orders"` → `Orders`); a subquery, a function call or anything
 * unusual gives `''`. `WITH … SELECT` gives the main statement's operation. Results are cached by text in a
 * bounded map. Never throws.
 */
export function summarizeSql(sql: string): SqlSummary {
  if (typeof sql !== 'string') return EMPTY;
  const cached = cache.get(sql);
  if (cached !== undefined) return cached;
  let summary: SqlSummary;
  try {
    summary = summarize(sql);
  } catch {
    summary = EMPTY;
  }
  if (sql.length <= MAX_CACHED_TEXT) {
    if (cache.size >= CACHE_SIZE) cache.delete(cache.keys().next().value as string);
    cache.set(sql, summary);
  }
  return summary;
}

/** Kinds of token the summary needs; everything it never copies is just `other`. */
enum Kind {
  End,
  Word,
  Quoted,
  Open,
  Close,
  Dot,
  Semicolon,
  Other,
}

/** A cursor over one statement's tokens; `value` is meaningful for words (uppercased) and quoted identifiers. */
class Tokens {
  position = 0;
  kind: Kind = Kind.End;
  value = '';
  /** Parenthesis depth before the current token. */
  depth = 0;
  /**
   * Set once a string literal holding a backslash has been passed: PostgreSQL reads `\` in '…' as a character,
   * MySQL as an escape, so where that literal ends (and whether later words are code or data) is ambiguous.
   * No table is read after that.
   */
  ambiguous = false;
  constructor(readonly text: string) {}

  /** Index just past the string literal opening at `start` (`'…'`, where `''` is an escaped quote). */
  skipString(start: number): number {
    const text = this.text;
    const length = text.length;
    let i = start + 1;
    while (i < length) {
      const c = text.charCodeAt(i);
      if (c === 92 /* \ */) {
        this.ambiguous = true;
        i++;
      } else if (c === 39) {
        if (text.charCodeAt(i + 1) === 39) i += 2;
        else return i + 1;
      } else {
        i++;
      }
    }
    return length;
  }

  next(): Kind {
    const text = this.text;
    const length = text.length;
    if (this.kind === Kind.Open) this.depth++;
    else if (this.kind === Kind.Close && this.depth > 0) this.depth--;
    this.value = '';
    const i = skipSpaceAndComments(text, this.position);
    if (i >= length) {
      this.position = length;
      this.kind = Kind.End;
      return this.kind;
    }
    const c = text.charCodeAt(i);
    if (isWordStart(c)) {
      let j = i + 1;
      while (j < length && isWordPart(text.charCodeAt(j))) j++;
      // A prefixed string literal (E'…', N'…', X'…', _utf8mb4'…') is a literal, not a word.
      if (j < length && text.charCodeAt(j) === 39 /* ' */) {
        this.position = this.skipString(j);
        this.kind = Kind.Other;
        return this.kind;
      }
      this.value = text.slice(i, j).toUpperCase();
      this.position = j;
      this.kind = Kind.Word;
      return this.kind;
    }
    switch (c) {
      case 34 /* " */:
      case 96 /* ` */:
        {
          const end = text.indexOf(c === 34 ? '"' : '`', i + 1);
          if (end < 0) {
            this.position = length;
            this.kind = Kind.End;
            return this.kind;
          }
          // A doubled quote inside a quoted name is an escaped quote: too unusual to be a label, so treat as other.
          if (text.charCodeAt(end + 1) === c) {
            this.position = skipQuoted(text, i, c);
            this.kind = Kind.Other;
            return this.kind;
          }
          this.value = text.slice(i + 1, end);
          this.position = end + 1;
          this.kind = Kind.Quoted;
          return this.kind;
        }
      case 39 /* ' */:
        this.position = this.skipString(i);
        this.kind = Kind.Other;
        return this.kind;
      case 36 /* $ */:
        {
          const close = dollarQuoteEnd(text, i);
          this.position = close;
          this.kind = Kind.Other;
          return this.kind;
        }
      case 40 /* ( */:
        this.position = i + 1;
        this.kind = Kind.Open;
        return this.kind;
      case 41 /* ) */:
        this.position = i + 1;
        this.kind = Kind.Close;
        return this.kind;
      case 46 /* . */:
        this.position = i + 1;
        this.kind = Kind.Dot;
        return this.kind;
      case 59 /* ; */:
        this.position = i + 1;
        this.kind = Kind.Semicolon;
        return this.kind;
      default: {
        // Numbers and operators: skip a run of digits and letters so `1e5` or `0xff` never reads as a word.
        let j = i + 1;
        if (isDigit(c)) while (j < length && isWordPart(text.charCodeAt(j))) j++;
        this.position = j;
        this.kind = Kind.Other;
        return this.kind;
      }
    }
  }
}

function summarize(sql: string): SqlSummary {
  const tokens = new Tokens(sql);
  // Leading parentheses: `(SELECT …) UNION (SELECT …)`.
  while (tokens.next() === Kind.Open) {}
  if (tokens.kind !== Kind.Word || !OPERATIONS.has(tokens.value)) return EMPTY;
  let operation = tokens.value;
  const baseDepth = tokens.depth;
  if (operation === 'WITH') {
    // The main statement is the first statement keyword back at the WITH's own depth.
    let found = false;
    for (let kind = tokens.next(); kind !== Kind.End && kind !== Kind.Semicolon; kind = tokens.next()) {
      if (tokens.depth === baseDepth && kind === Kind.Word && WITH_TARGETS.has(tokens.value)) {
        operation = tokens.value;
        found = true;
        break;
      }
    }
    if (!found) return { operation, table: '' };
  }
  return { operation, table: tableOf(tokens, operation, baseDepth) };
}

/** The first table of the statement whose operation keyword the cursor is on. */
function tableOf(tokens: Tokens, operation: string, depth: number): string {
  if (operation === 'UPDATE' || operation === 'TABLE') {
    tokens.next();
    return tableName(tokens, false);
  }
  const introducers =
    operation === 'SELECT' || operation === 'DELETE'
      ? ['FROM']
      : operation === 'INSERT' || operation === 'REPLACE' || operation === 'UPSERT' || operation === 'MERGE'
        ? ['INTO']
        : DDL_OPERATIONS.has(operation)
          ? ['TABLE']
          : operation === 'COPY' || operation === 'LOCK'
            ? ['COPY', 'TABLE']
            : undefined;
  if (introducers === undefined) return '';
  if (operation === 'COPY' || operation === 'LOCK') {
    // COPY t FROM …, LOCK [TABLE] t: the table follows the keyword itself.
    tokens.next();
    if (tokens.kind === Kind.Word && tokens.value === 'TABLE') tokens.next();
    return tableName(tokens, false);
  }
  if (DDL_OPERATIONS.has(operation)) {
    // Only `CREATE [TEMP …] TABLE t`, `DROP TABLE …`: the word right after the modifiers must be TABLE.
    tokens.next();
    while (tokens.kind === Kind.Word && TABLE_MODIFIERS.has(tokens.value)) tokens.next();
    if (operation === 'TRUNCATE' && !(tokens.kind === Kind.Word && tokens.value === 'TABLE')) {
      return tableName(tokens, false);
    }
    if (!(tokens.kind === Kind.Word && tokens.value === 'TABLE')) return '';
    tokens.next();
    return tableName(tokens, false);
  }
  while (tokens.next() !== Kind.End && tokens.kind !== Kind.Semicolon) {
    if (tokens.depth !== depth || tokens.kind !== Kind.Word) continue;
    if (introducers.includes(tokens.value)) {
      tokens.next();
      return tableName(tokens, introducers[0] === 'FROM');
    }
  }
  return '';
}

/**
 * The (optionally schema-qualified) name at the cursor, or `''`. With `notCall`, a name followed by `(` is a
 * function (`FROM generate_series(1, 3)`) and gives `''`.
 */
function tableName(tokens: Tokens, notCall: boolean): string {
  if (tokens.ambiguous) return '';
  while (tokens.kind === Kind.Word && TABLE_MODIFIERS.has(tokens.value)) tokens.next();
  const parts: string[] = [];
  for (;;) {
    const part = identifier(tokens);
    if (part === '') return '';
    parts.push(part);
    if (tokens.next() !== Kind.Dot || parts.length === 3) break;
    tokens.next();
  }
  if (notCall && tokens.kind === Kind.Open) return '';
  return tokens.ambiguous ? '' : parts.join('.');
}

/** The identifier at the cursor: a word as written (case kept) or a quoted name made of identifier characters. */
function identifier(tokens: Tokens): string {
  let name: string;
  if (tokens.kind === Kind.Word) {
    if (RESERVED_AFTER_TABLE_KEYWORD.has(tokens.value)) return '';
    // The original spelling: the cursor stands just after the word.
    name = tokens.text.slice(tokens.position - tokens.value.length, tokens.position);
  } else if (tokens.kind === Kind.Quoted) {
    name = tokens.value;
  } else {
    return '';
  }
  if (name.length === 0 || name.length > MAX_PART || !PLAIN_NAME.test(name)) return '';
  return name;
}

const PLAIN_NAME = /^[A-Za-z_][A-Za-z0-9_$]*$/;
// Words that would follow FROM/INTO in SQL that is not a plain table: `FROM (SELECT …)`, `DELETE FROM WHERE`.
const RESERVED_AFTER_TABLE_KEYWORD = new Set([
  'SELECT',
  'WHERE',
  'LATERAL',
  'VALUES',
  'SET',
  'UNNEST',
  'ROWS',
  'FROM',
  'JOIN',
  'ON',
  'USING',
  'AS',
  'WITH',
]);

function skipSpaceAndComments(text: string, from: number): number {
  const length = text.length;
  let i = from;
  while (i < length) {
    const c = text.charCodeAt(i);
    if (c === 32 || (c >= 9 && c <= 13)) {
      i++;
    } else if (c === 45 /* - */ && text.charCodeAt(i + 1) === 45) {
      const end = text.indexOf('\n', i + 2);
      i = end < 0 ? length : end + 1;
    } else if (c === 35 /* # (MySQL) */) {
      const end = text.indexOf('\n', i + 1);
      i = end < 0 ? length : end + 1;
    } else if (c === 47 /* / */ && text.charCodeAt(i + 1) === 42 /* * */) {
      // PostgreSQL nests block comments.
      let nesting = 1;
      let j = i + 2;
      while (j < length && nesting > 0) {
        if (text.charCodeAt(j) === 42 && text.charCodeAt(j + 1) === 47) {
          nesting--;
          j += 2;
        } else if (text.charCodeAt(j) === 47 && text.charCodeAt(j + 1) === 42) {
          nesting++;
          j += 2;
        } else {
          j++;
        }
      }
      i = j;
    } else {
      break;
    }
  }
  return i;
}

function skipQuoted(text: string, start: number, quote: number): number {
  const length = text.length;
  let i = start + 1;
  while (i < length) {
    if (text.charCodeAt(i) === quote) {
      if (text.charCodeAt(i + 1) === quote) i += 2;
      else return i + 1;
    } else {
      i++;
    }
  }
  return length;
}

/** Index past a dollar-quoted string (`$$…$$`, `$tag$…$tag$`), or past a `$1` placeholder. */
function dollarQuoteEnd(text: string, start: number): number {
  let j = start + 1;
  while (j < text.length && isWordPart(text.charCodeAt(j)) && text.charCodeAt(j) !== 36) j++;
  if (text.charCodeAt(j) !== 36 || isDigit(text.charCodeAt(start + 1))) return j; // a placeholder such as $1
  const tag = text.slice(start, j + 1);
  const end = text.indexOf(tag, j + 1);
  return end < 0 ? text.length : end + tag.length;
}

function isWordStart(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c > 127;
}

function isWordPart(c: number): boolean {
  return isWordStart(c) || isDigit(c) || c === 36;
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}
