/**
 * The route-label conformance harness every framework test shares. The application's handlers declare the
 * route they serve (`served.mark(request, '/tenants/:tenant/settings')`, before they answer or throw); the test
 * sends requests tagged with a case id; the exported `http_server_requests_total` series must then be exactly
 * the routes the handlers declared (`<unmatched>` where no handler ran), with the statuses the client saw.
 */
import { connect } from 'node:net';
import { expect } from 'vitest';
import { UNMATCHED_ROUTE } from '../../src/http/index.js';
import type { Telemeter } from '../../src/index.js';
import { parseSamples } from './helpers.js';

/** The request header that carries a case id to the handler. */
export const CASE_HEADER = 'x-telemeter-case';

/** What the handlers declared, by case id. */
export class ServedRoutes {
  private readonly routes = new Map<string, string>();

  /** Called by a handler with the full template of the route it serves. */
  mark(headers: Record<string, string | string[] | undefined> | Headers, route: string): void {
    const id = headers instanceof Headers ? headers.get(CASE_HEADER) : headers[CASE_HEADER];
    if (typeof id === 'string') this.routes.set(id, route);
  }

  routeOf(id: string): string {
    return this.routes.get(id) ?? UNMATCHED_ROUTE;
  }

  clear(): void {
    this.routes.clear();
  }
}

/** One request of a conformance run. */
export interface RouteCase {
  readonly method?: string;
  readonly path: string;
  /**
   * How the request is sent: a whole request read to the end (default); a client that goes away before the
   * first response byte (`abort-before`, after `abortAfterMs`); or as soon as the first byte arrives
   * (`abort-after`).
   */
  readonly mode?: 'complete' | 'abort-before' | 'abort-after';
  /** Milliseconds before an `abort-before` client leaves; default 100. */
  readonly abortAfterMs?: number;
  /** The status label expected: the status code, or 499 for an aborted request. Checked when given. */
  readonly status?: number;
}

/** What the client saw of one case. */
export interface CaseResult {
  readonly id: string;
  readonly method: string;
  readonly status: string;
}

let caseSequence = 0;

/** Sends one case on a raw socket (so aborts are exact) and reports the status the client saw. */
export function sendCase(port: number, routeCase: RouteCase, host = '127.0.0.1'): Promise<CaseResult> {
  const id = `c${++caseSequence}`;
  const method = routeCase.method ?? 'GET';
  const mode = routeCase.mode ?? 'complete';
  return new Promise((resolve, reject) => {
    const socket = connect(port, host);
    let received = '';
    let settled = false;
    const finish = (status: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ id, method, status });
    };
    const timer = setTimeout(() => {
      socket.destroy();
      if (!settled) reject(new Error(`${method} ${routeCase.path}: no answer within 10 s`));
    }, 10_000);
    socket.on('connect', () => {
      socket.write(
        `${method} ${routeCase.path} HTTP/1.1\r\nHost: ${host}:${port}\r\n${CASE_HEADER}: ${id}\r\nConnection: close\r\n\r\n`,
      );
      if (mode === 'abort-before') {
        setTimeout(() => finish('499'), routeCase.abortAfterMs ?? 100);
      }
    });
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      received += chunk;
      if (mode === 'abort-after') finish('499');
      else if (mode === 'abort-before') finish(statusOf(received));
    });
    socket.on('error', (error) => {
      if (!settled) reject(error);
    });
    socket.on('close', () => finish(statusOf(received)));
  });
}

function statusOf(response: string): string {
  const match = /^HTTP\/1\.[01] (\d{3})/.exec(response);
  return match === null ? 'none' : match[1];
}

/**
 * Sends every case one after another, waits until the telemeter has counted them all, and asserts that the
 * `http_server_requests_total` series are exactly the declared routes with the statuses the clients saw.
 * Returns the results for further checks.
 */
export async function expectRoutesMatchRouter(
  telemeter: Telemeter,
  port: number,
  served: ServedRoutes,
  cases: readonly RouteCase[],
  host?: string,
): Promise<CaseResult[]> {
  const results: CaseResult[] = [];
  for (const routeCase of cases) {
    const result = await sendCase(port, routeCase, host);
    if (routeCase.status !== undefined) {
      expect(result.status, `${result.method} ${routeCase.path}`).toBe(String(routeCase.status));
    }
    results.push(result);
  }
  const expected = new Map<string, number>();
  for (const { id, method, status } of results) {
    const key = `${method} ${served.routeOf(id)} ${status}`;
    expected.set(key, (expected.get(key) ?? 0) + 1);
  }
  const exported = () => {
    const counts = new Map<string, number>();
    for (const sample of parseSamples(telemeter.scrape())) {
      if (sample.name !== 'http_server_requests_total') continue;
      const { method, route, status } = sample.labels;
      counts.set(`${method} ${route} ${status}`, sample.value);
    }
    return counts;
  };
  // Aborted requests are counted when the server sees the connection close, a moment after the client left.
  const deadline = Date.now() + 5_000;
  let counts = exported();
  while (total(counts) < results.length && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 10));
    counts = exported();
  }
  expect(Object.fromEntries([...counts].sort())).toEqual(Object.fromEntries([...expected].sort()));
  return results;
}

function total(counts: Map<string, number>): number {
  let sum = 0;
  for (const value of counts.values()) sum += value;
  return sum;
}
