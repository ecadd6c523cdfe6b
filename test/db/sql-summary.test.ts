import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { summarizeSql } from '../../src/db/sql-summary.js';

const cases: Array<[string, string, string]> = [
  ['SELECT * FROM users WHERE id = $1', 'SELECT', 'users'],
  ['select id from "Orders" o join items i on i.order_id = o.id', 'SELECT', 'Orders'],
  ['SELECT * FROM shop.orders', 'SELECT', 'shop.orders'],
  ['SELECT * FROM "shop"."order_lines"', 'SELECT', 'shop.order_lines'],
  ['SELECT * FROM `shop`.`orders` WHERE a = ?', 'SELECT', 'shop.orders'],
  ['SELECT 1', 'SELECT', ''],
  ['SELECT now()', 'SELECT', ''],
  ['SELECT pg_sleep(0.05)', 'SELECT', ''],
  ['SELECT * FROM generate_series(1, 3)', 'SELECT', ''],
  ['SELECT * FROM (SELECT * FROM secret) s', 'SELECT', ''],
  ['SELECT (SELECT max(id) FROM inner_t) FROM outer_t', 'SELECT', 'outer_t'],
  ['  -- a comment FROM nowhere\n /* FROM x */ SELECT a FROM t1', 'SELECT', 't1'],
  ['/* nested /* FROM a */ FROM b */ SELECT 1 FROM c', 'SELECT', 'c'],
  ["SELECT 'FROM fake' AS x FROM real_t", 'SELECT', 'real_t'],
  ['SELECT $$ FROM fake $$, $tag$ FROM f2 $tag$ FROM real_t', 'SELECT', 'real_t'],
  ["SELECT E'it''s FROM x' FROM t", 'SELECT', 't'],
  ["SELECT 'C:\\' FROM t", 'SELECT', ''],
  ['INSERT INTO orders (id, total) VALUES ($1, $2)', 'INSERT', 'orders'],
  ['insert ignore into logs values (1)', 'INSERT', 'logs'],
  ['REPLACE INTO kv VALUES (1, 2)', 'REPLACE', 'kv'],
  ['UPDATE accounts SET balance = balance - 10 WHERE id = 3', 'UPDATE', 'accounts'],
  ['UPDATE ONLY accounts SET x = 1', 'UPDATE', 'accounts'],
  ['UPDATE LOW_PRIORITY IGNORE accounts SET x = 1', 'UPDATE', 'accounts'],
  ['DELETE FROM sessions WHERE expires < now()', 'DELETE', 'sessions'],
  ['WITH recent AS (SELECT * FROM orders) SELECT * FROM recent', 'SELECT', 'recent'],
  ['WITH moved AS (DELETE FROM a RETURNING *) INSERT INTO b SELECT * FROM moved', 'INSERT', 'b'],
  ['WITH RECURSIVE t(n) AS (VALUES (1) UNION ALL SELECT n+1 FROM t) SELECT sum(n) FROM t', 'SELECT', 't'],
  ['(SELECT a FROM x) UNION (SELECT a FROM y)', 'SELECT', 'x'],
  ['BEGIN', 'BEGIN', ''],
  ['begin isolation level serializable', 'BEGIN', ''],
  ['START TRANSACTION', 'START', ''],
  ['COMMIT', 'COMMIT', ''],
  ['ROLLBACK', 'ROLLBACK', ''],
  ['CALL refresh_totals(1)', 'CALL', ''],
  ['CREATE TABLE IF NOT EXISTS items (id int)', 'CREATE', 'items'],
  ['CREATE TEMP TABLE scratch (id int)', 'CREATE', 'scratch'],
  ['CREATE INDEX idx ON items (id)', 'CREATE', ''],
  ['DROP TABLE IF EXISTS items', 'DROP', 'items'],
  ['TRUNCATE items', 'TRUNCATE', 'items'],
  ['TRUNCATE TABLE items', 'TRUNCATE', 'items'],
  ['COPY items FROM STDIN', 'COPY', 'items'],
  ['SHOW server_version', 'SHOW', ''],
  ['frobnicate the database', '', ''],
  ['', '', ''],
  ["'literal first' FROM t", '', ''],
  ['SELECT * FROM', 'SELECT', ''],
  ['DELETE FROM WHERE', 'DELETE', ''],
  [`SELECT * FROM ${'a'.repeat(70)}`, 'SELECT', ''],
  ['SELECT * FROM "weird name"', 'SELECT', ''],
  ['SELECT * FROM t; DROP TABLE u', 'SELECT', 't'],
];

describe('summarizeSql', () => {
  it.each(cases)('%s', (sql, operation, table) => {
    expect(summarizeSql(sql)).toEqual({ operation, table });
  });

  it('answers the same (cached) object for a repeated statement', () => {
    const sql = 'SELECT * FROM cached_t WHERE id = $1';
    expect(summarizeSql(sql)).toBe(summarizeSql(sql));
  });

  it('never throws, whatever it is given', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (text) => {
        const { operation, table } = summarizeSql(text);
        expect(operation.length).toBeLessThanOrEqual(12);
        expect(table.length).toBeLessThanOrEqual(3 * 64 + 2);
      }),
      { numRuns: 2000 },
    );
    expect(summarizeSql(undefined as unknown as string)).toEqual({ operation: '', table: '' });
  });

  // Literal values drawn to look like code: keywords, quotes, comment markers, backslashes, dollar quotes.
  const nasty = fc.stringMatching(/^[a-zA-Z0-9_ '"`$\\;()/*#\n-]{0,24}$/);
  const literal = fc.oneof(
    nasty.map((v) => ({ value: v, sql: `'${v.replaceAll("'", "''")}'` })),
    nasty.filter((v) => !v.includes('$q$')).map((v) => ({ value: v, sql: `$q$${v}$q$` })),
    fc.integer().map((n) => ({ value: String(n), sql: String(n) })),
    fc.double({ noNaN: true, noDefaultInfinity: true }).map((n) => ({ value: String(n), sql: String(n) })),
  );
  const templates = [
    (l: string) => `SELECT * FROM orders WHERE id = ${l}`,
    (l: string) => `SELECT ${l} AS x FROM t WHERE y = ${l}`,
    (l: string) => `SELECT ${l}`,
    (l: string) => `INSERT INTO items (a, b) VALUES (${l}, ${l})`,
    (l: string) => `UPDATE accounts SET note = ${l} WHERE id = ${l}`,
    (l: string) => `DELETE FROM sessions WHERE token = ${l}`,
    (l: string) => `WITH c AS (SELECT ${l} AS v) SELECT * FROM c`,
    (l: string) => `SELECT * FROM (SELECT ${l}) s`,
    (l: string) => `SELECT ${l}, ${l} FROM ${l}`,
    (l: string) => `${l}`,
  ];

  it('never lets a literal value shape the answer, nor appear in it', () => {
    fc.assert(
      fc.property(
        literal,
        fc.integer({ min: 0, max: templates.length - 1 }),
        fc.stringMatching(/^zqx[a-z]{6}$/),
        (lit, index, marker) => {
          const template = templates[index];
          // The marker is a value no template holds: it may only reach the answer by leaking from the literal.
          const marked = {
            value: `${marker}${lit.value}`,
            sql: `'${`${marker}${lit.value}`.replaceAll("'", "''")}'`,
          };
          const withLiteral = summarizeSql(template(lit.sql));
          const withMarked = summarizeSql(template(marked.sql));
          const answer = `${withMarked.operation} ${withMarked.table}`;
          expect(answer).not.toContain(marker);
          // Any value, however it is quoted, gives what a placeholder gives (unless a backslash makes the
          // literal's end ambiguous, when the table is given up).
          const placeholder = summarizeSql(template('$1'));
          for (const got of [withLiteral, withMarked]) {
            expect(got.operation).toBe(placeholder.operation);
            if (got.table !== '') expect(got.table).toBe(placeholder.table);
            if (!lit.value.includes('\\')) expect(got.table).toBe(placeholder.table);
          }
        },
      ),
      { numRuns: 3000 },
    );
  });
});
