/**
 * One clock for every bench process: wall-clock milliseconds with
 * microsecond resolution. `performance.timeOrigin` can be off by
 * milliseconds on a busy machine, so each process instead pins the
 * monotonic clock to the system clock at the instant `Date.now()` ticks
 * over to a new millisecond; processes on one machine then agree to a few
 * microseconds (plus any adjustment of the system clock between their starts).
 */
const SAMPLES = 5;

function calibrate(): number {
  let best = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < SAMPLES; i += 1) {
    const start = Date.now();
    let tick = start;
    let at = performance.now();
    while (tick === start) {
      tick = Date.now();
      at = performance.now();
    }
    // Any delay between the tick and reading the monotonic clock makes the
    // offset smaller than the truth: the largest is the closest.
    best = Math.max(best, tick - at);
  }
  return best;
}

const origin = calibrate();

export function now(): number {
  return origin + performance.now();
}
