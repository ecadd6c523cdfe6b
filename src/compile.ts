let compiled = 0;

/**
 * A comment that makes a generated function's source text unlike any other: put it inside the function.
 *
 * V8 caches compiled functions by their source text, and functions made from one cached compilation share their
 * type feedback. Two metrics whose generated code reads the same (a summary and a distribution with the same tags
 * and measurement) would then share call sites: the store call would see both stores, turn polymorphic, and cost
 * both metrics. A numbered comment naming the metric keeps each function's feedback its own.
 */
export function sourceTag(label: string): string {
  return `/* ${label.replace(/\*\//g, '* /')} #${++compiled} */`;
}
