let compiled = 0;
let refusedForTests = false;

/**
 * A comment that makes a generated function's source text unlike any other: put it inside the function.
 *
 * V8 caches compiled functions by their source text, and functions made from one cached compilation share their
 * type feedback. Two metrics whose generated code reads the same (a summary and a distribution with the same tags
 * and measurement) would then share call sites: the store call would see both stores, turn polymorphic, and cost
 * both metrics. A numbered comment naming the metric keeps each function's feedback its own.
 */
export function sourceTag(label: string): string {
  // No regular expression here: a handler that recursed into a stack overflow is detached from deep in the stack,
  // and V8 aborts the process when it compiles a regular expression there (a fatal "RegExpCompiler" out-of-memory).
  return `/* ${label.split('*/').join('* /')} #${++compiled} */`;
}

/**
 * Compiles `body` as the body of a function of `params` and calls it with `args`, for the factories that generate
 * telemeter's hot paths; or returns undefined where the runtime refuses code generation from strings
 * (`--disallow-code-generation-from-strings`, a Content-Security-Policy without `unsafe-eval`, Cloudflare Workers
 * while handling a request). Each caller then takes a plain path with the same results.
 *
 * Only that refusal (an `EvalError`) selects the plain path: any other error, such as a `SyntaxError` in the
 * generated source, is a bug and is thrown. The answer is not cached, because a runtime may refuse at one time and
 * allow at another (workerd allows it while a module's top level runs).
 */
export function generate<T>(
  params: readonly string[],
  body: string,
  args: readonly unknown[],
): T | undefined {
  let factory: (...values: unknown[]) => T;
  try {
    if (refusedForTests) throw new EvalError('code generation is turned off for this test');
    factory = new Function(...params, body) as (...values: unknown[]) => T;
  } catch (error) {
    if (error instanceof EvalError) return undefined;
    throw error;
  }
  return factory(...args);
}

/**
 * Makes {@link generate} behave as if the runtime refused code generation (true) or not (false), so that one
 * process can build both paths and compare them. For tests only; not exported from the package.
 */
export function refuseCodeGenerationForTests(refuse: boolean): void {
  refusedForTests = refuse;
}
