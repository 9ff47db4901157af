/**
 * The hardening probes' table (issue 12): runs after every `test/hardening-*.test.ts` (files run
 * one at a time, in name order) and prints the rows they recorded — area, input, expected
 * outcome, outcome — also written as `.test-output/hardening-report.md`.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HARDENING_REPORT_DIR, readProbes } from './support/hardening-report';

describe('hardening probes report', () => {
  it('prints the table: every probe passed', () => {
    const rows = readProbes();
    expect(rows.length, 'no probe recorded a row: run the test/hardening-*.test.ts files before this one').toBeGreaterThan(0);
    const esc = (s: string) => s.replaceAll('|', '/').replaceAll('\n', ' ');
    const lines = [
      '| area | input | expected | outcome | result |',
      '|---|---|---|---|---|',
      ...rows.map((r) => `| ${esc(r.area)} | ${esc(r.input)} | ${esc(r.expected)} | ${esc(r.outcome)} | ${r.result} |`),
    ];
    const table = lines.join('\n');
    writeFileSync(join(HARDENING_REPORT_DIR, '..', 'hardening-report.md'), `${table}\n`);
    console.log(`\nhardening probes (issue 12)\n${table}\n`);
    for (const row of rows) expect(row.result, `${row.area}: ${row.input}`).toBe('pass');
  });
});
