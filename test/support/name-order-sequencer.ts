import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * Runs test files in name order instead of vitest's duration-based order, so that the
 * cross-process suite is repeatable and `fault-zz-report.test.ts` (which prints the table of
 * the fault scenarios that ran before it) always comes last.
 */
export class NameOrderSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    return [...files].sort((a, b) => (a.moduleId < b.moduleId ? -1 : a.moduleId > b.moduleId ? 1 : 0));
  }
}
