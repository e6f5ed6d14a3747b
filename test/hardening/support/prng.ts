/** A seeded PRNG (mulberry32): the same seed gives the same run. */
export function createPrng(seed: number) {
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
  const int = (maxExclusive: number): number => Math.floor(next() * maxExclusive);
  return {
    next,
    int,
    pick: <T>(items: readonly T[]): T => {
      if (items.length === 0) throw new Error('pick from an empty list');
      // The index is in range: the element is a T (which may itself admit undefined).
      return items[int(items.length)] as T;
    },
    chance: (probability: number): boolean => next() < probability,
  };
}

export type Prng = ReturnType<typeof createPrng>;
