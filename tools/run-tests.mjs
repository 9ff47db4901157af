#!/usr/bin/env node
// The project's test command (`npm test`): the unit suite (files in parallel), then the
// cross-process suite in test/ (one file at a time). Prints one closing line,
// `N passed, N failed`, summed over both, and exits non-zero if anything failed.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outDir = join(root, '.test-output');
mkdirSync(outDir, { recursive: true });
// Rows of the fault suite's and the hardening probes' tables are recorded per run: start without an earlier run's.
rmSync(join(outDir, 'fault-report'), { recursive: true, force: true });
rmSync(join(outDir, 'hardening-report'), { recursive: true, force: true });
// `--suite unit` (or `e2e`) runs one of the two suites; any other arguments go to vitest.
let extra = process.argv.slice(2);
let suites = ['unit', 'e2e'];
const suiteArg = extra.indexOf('--suite');
if (suiteArg !== -1) {
  const suite = extra[suiteArg + 1];
  if (!suites.includes(suite)) {
    console.error(`--suite takes one of ${suites.join(', ')}, not ${suite ?? 'nothing'}`);
    process.exit(2);
  }
  suites = [suite];
  extra = [...extra.slice(0, suiteArg), ...extra.slice(suiteArg + 2)];
}

let passed = 0;
let failed = 0;
let exitCode = 0;
const failedNames = [];
for (const project of suites) {
  const report = join(outDir, `${project}.json`);
  rmSync(report, { force: true });
  const vitest = join(root, 'node_modules', 'vitest', 'vitest.mjs');
  const result = spawnSync(
    process.execPath,
    [vitest, 'run', '--project', project, '--reporter=default', '--reporter=json', `--outputFile.json=${report}`, ...extra],
    { cwd: root, stdio: 'inherit', env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip' } },
  );
  let counted = false;
  try {
    const json = JSON.parse(readFileSync(report, 'utf8'));
    passed += json.numPassedTests ?? 0;
    failed += countFailures(json);
    failedNames.push(...namesOfFailures(json));
    counted = true;
  } catch {
    // no report: the run itself broke
  }
  if (result.status !== 0) {
    exitCode = 1;
    if (!counted || failed === 0) failed += 1;
  }
}
// One line per failure, so the end of a long log says what failed (.ci/run repeats these lines).
for (const name of failedNames) console.log(`FAILED ${name}`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(exitCode);

/** `file > test: first line of the message`, for every failed test or file that did not load. */
function namesOfFailures(json) {
  const names = [];
  for (const file of json.testResults ?? []) {
    const path = relative(root, file.name ?? '');
    const failedTests = (file.assertionResults ?? []).filter((test) => test.status === 'failed');
    for (const test of failedTests) {
      const message = String(test.failureMessages?.[0] ?? '').split('\n')[0].slice(0, 200);
      names.push(`${path} > ${test.fullName ?? test.title}: ${message}`);
    }
    if (file.status === 'failed' && failedTests.length === 0) {
      names.push(`${path}: ${String(file.message ?? 'did not load').split('\n')[0].slice(0, 200)}`);
    }
  }
  return names;
}

/** Failed tests, plus one per file that failed without a failed test (it did not load). */
function countFailures(json) {
  let failures = 0;
  for (const file of json.testResults ?? []) {
    const failedTests = (file.assertionResults ?? []).filter((test) => test.status === 'failed').length;
    failures += failedTests;
    if (file.status === 'failed' && failedTests === 0) failures += 1;
  }
  return failures;
}
