/**
 * The fault suite's table (issue 6): runs last (files run one at a time, in name order) and
 * prints the row each scenario of `test/fault-*.test.ts` recorded under
 * `.test-output/fault-report/`: scenario, result, objects lost, objects duplicated, work
 * amplification (objects inferred / objects embedded). Also written as markdown beside them.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPORT_DIR, readReport } from './support/fault-checks';

describe('fault suite report', () => {
  it('prints the table: 0 lost and 0 duplicated everywhere', () => {
    const rows = readReport();
    expect(rows.length, 'no fault scenario recorded a row: run the test/fault-*.test.ts files before this one').toBeGreaterThan(0);
    const cell = (value: number | null) => (value === null ? '–' : String(value));
    const lines = [
      '| scenario | result | lost | duplicated | amplification | note |',
      '|---|---|---|---|---|---|',
      ...rows.map((r) => `| ${r.scenario} | ${r.result} | ${cell(r.lost)} | ${cell(r.duplicated)} | ${cell(r.amplification)} | ${(r.note ?? '').replaceAll('|', '/')} |`),
    ];
    const table = lines.join('\n');
    writeFileSync(join(REPORT_DIR, '..', 'fault-report.md'), `${table}\n`);
    console.log(`\nfault suite (issue 6)\n${table}\n`);
    for (const row of rows) {
      expect(row.result, row.scenario).toBe('pass');
      expect(row.lost ?? 0, row.scenario).toBe(0);
      expect(row.duplicated ?? 0, row.scenario).toBe(0);
    }
  });
});
