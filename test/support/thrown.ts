/** The error `run` throws, to check its code as well as its message; fails the test when it throws nothing. */
export function thrown(run: () => unknown): Error & { code?: string } {
  try {
    run();
  } catch (error) {
    return error as Error & { code?: string };
  }
  throw new Error('expected a throw');
}
