// The tests a mutation run (stryker.config.js) runs: in-process, fast, and
// between them covering every line of the mutated modules.
import { defineConfig } from 'vitest/config';

import base from './vitest.config.ts';

/** @param {import('vitest').RunnerTestSuite | import('vitest').RunnerTestFile} suite */
const hasFailedTest = (suite) =>
  suite.tasks.some((task) =>
    task.type === 'test' ? task.result?.state === 'fail' : task.type === 'suite' && hasFailedTest(task),
  );

/**
 * A test file that throws while loading (a mutant in code run at import, or
 * at collection) has no failed test, which Stryker would score as a
 * survivor: such a file gets one failed test that carries the load error.
 * @implements {import('vitest/node').Reporter}
 */
class LoadFailureAsFailedTest {
  /** @type {import('vitest/node').Vitest | undefined} */
  #vitest;

  /** @param {import('vitest/node').Vitest} vitest */
  onInit(vitest) {
    this.#vitest = vitest;
  }

  onTestRunEnd() {
    for (const file of this.#vitest?.state.getFiles() ?? []) {
      if (file.result?.state !== 'fail' || hasFailedTest(file)) continue;
      file.tasks.push({
        type: 'test',
        id: `${file.id}_load`,
        name: 'loads',
        mode: 'run',
        file,
        suite: file,
        result: { state: 'fail', errors: file.result.errors },
        context: {},
        meta: {},
        timeout: 0,
        annotations: [],
        artifacts: [],
      });
    }
  }
}

export default defineConfig({
  ...base,
  test: {
    ...base.test,
    include: [
      'test/unit/stream-tokens.test.ts',
      'test/unit/define-stream.test.ts',
      'test/unit/group-fan-out.test.ts',
      'test/contract/stream-storage.test.ts',
      'test/unit/pet-input-limits.test.ts',
      'test/unit/pet-input-text.test.ts',
      'test/**/*-mutants.test.ts',
    ],
    // Every test here takes well under a second: a mutant that makes one wait for
    // ever fails it soon, instead of timing out the whole run.
    testTimeout: 3_000,
    hookTimeout: 3_000,
    reporters: ['default', new LoadFailureAsFailedTest()],
  },
});
