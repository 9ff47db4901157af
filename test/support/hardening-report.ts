/**
 * The hardening probes' table (issue 12): each probe in `test/hardening-*.test.ts` runs an
 * attacker's or careless operator's input through the real processes and records one row —
 * area, input, expected outcome, observed outcome — under `.test-output/hardening-report/`.
 * `test/hardening-zz-report.test.ts` (last in name order) prints them as one table.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const HARDENING_REPORT_DIR = join(process.cwd(), '.test-output', 'hardening-report');

export interface ProbeRow {
  /** Short area name, e.g. `poison images`, `trust`, `secrets`, `run states`, `operator`. */
  area: string;
  /** What was fed in, in a few words. */
  input: string;
  /** What must happen. */
  expected: string;
  /** What did happen (filled by {@link probe} from the body's return value or its error). */
  outcome: string;
  result: 'pass' | 'fail';
}

export function recordProbe(row: ProbeRow): void {
  mkdirSync(HARDENING_REPORT_DIR, { recursive: true });
  const file = `${row.area}-${row.input}`.replace(/[^a-zA-Z0-9]+/g, '-').toLowerCase().slice(0, 100);
  writeFileSync(join(HARDENING_REPORT_DIR, `${file}.json`), JSON.stringify({ ...row, at: new Date().toISOString() }, null, 2));
}

/**
 * Runs one probe and records its row. The body makes its assertions (a throw records `fail`
 * with the error's first line and is rethrown) and returns a one-line description of what it
 * observed, which becomes the row's outcome.
 */
export async function probe(area: string, input: string, expected: string, body: () => Promise<string>): Promise<void> {
  let outcome: string;
  try {
    outcome = await body();
  } catch (error) {
    recordProbe({ area, input, expected, outcome: (error as Error).message.split('\n')[0]!.slice(0, 160), result: 'fail' });
    throw error;
  }
  recordProbe({ area, input, expected, outcome, result: 'pass' });
}

export function readProbes(): Array<ProbeRow & { at: string }> {
  let files: string[];
  try {
    files = readdirSync(HARDENING_REPORT_DIR).filter((f) => f.endsWith('.json'));
  } catch {
    return [];
  }
  return files
    .map((f) => JSON.parse(readFileSync(join(HARDENING_REPORT_DIR, f), 'utf8')) as ProbeRow & { at: string })
    .sort((a, b) => a.area.localeCompare(b.area) || a.input.localeCompare(b.input));
}
