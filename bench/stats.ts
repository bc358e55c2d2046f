/** Small statistics the benchmarks share. */
import { performance } from 'node:perf_hooks';

/** The median of a non-empty list. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** The list rotated left by `by`: each round starts with another variant, cancelling drift. */
export function rotate<T>(list: readonly T[], by: number): T[] {
  const k = by % list.length;
  return [...list.slice(k), ...list.slice(0, k)];
}

/**
 * Times each side (a function making `callsPerRound` calls) once per round, the sides' order
 * rotated every round, and returns each side's median round in µs per call.
 */
export async function medianUsPerCall<S extends string>(
  sides: Record<S, () => Promise<void>>,
  rounds: number,
  callsPerRound: number,
): Promise<Record<S, number>> {
  const names = Object.keys(sides) as S[];
  const perCall = Object.fromEntries(names.map((name) => [name, [] as number[]])) as Record<S, number[]>;
  for (let round = 0; round < rounds; round++) {
    for (const side of rotate(names, round)) {
      const start = performance.now();
      await sides[side]();
      perCall[side].push(((performance.now() - start) * 1000) / callsPerRound);
    }
  }
  return Object.fromEntries(names.map((name) => [name, median(perCall[name])])) as Record<S, number>;
}
