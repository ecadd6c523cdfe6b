/**
 * Whether this process may compile code from strings. The `no-codegen` test project (vitest.config.ts) runs the
 * core's tests again with `--disallow-code-generation-from-strings`; tests about generated code assert the plain
 * path there instead.
 */
export const codeGenerationAllowed: boolean = (() => {
  try {
    return new Function('return true')() === true;
  } catch (error) {
    if (error instanceof EvalError) return false;
    throw error;
  }
})();
