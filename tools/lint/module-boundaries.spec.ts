/**
 * Proves the layering is enforced: each forbidden import below must make ESLint report
 * `@nx/enforce-module-boundaries`, and each allowed one must not. The code is linted as if it
 * were a file of the named project (nothing is written to disk).
 */
import { execFileSync } from 'node:child_process';
import { ESLint } from 'eslint';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const eslint = new ESLint({ cwd: root });

// The rule reads Nx's cached project graph and silently skips itself when there is none (a
// fresh clone where no nx command has run yet): compute the graph first, as `nx lint` would.
beforeAll(() => {
  execFileSync(process.execPath, [fileURLToPath(new URL('../../node_modules/nx/dist/bin/nx.js', import.meta.url)), 'show', 'projects'], {
    cwd: root,
    env: { ...process.env, NX_DAEMON: 'false' },
    stdio: 'ignore',
  });
}, 120_000);

async function boundaryErrors(filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: `${root}${filePath}` });
  return (result?.messages ?? [])
    .filter((message) => message.ruleId === '@nx/enforce-module-boundaries')
    .map((message) => message.message);
}

describe('module boundaries', () => {
  const forbidden: Array<[string, string, string, RegExp]> = [
    ['libs/model imports libs/io', 'libs/model/src/probe.ts', "import * as io from '@siglip-batch/io';\nexport { io };\n", /tagged with "scope:model"/],
    ['libs/model imports the job contract', 'libs/model/src/probe.ts', "import * as jobs from '@siglip-batch/jobs';\nexport { jobs };\n", /tagged with "scope:model"/],
    ['libs/io imports libs/model', 'libs/io/src/probe.ts', "import * as model from '@siglip-batch/model';\nexport { model };\n", /tagged with "scope:io"/],
    ['libs/io imports the job contract', 'libs/io/src/probe.ts', "import * as jobs from '@siglip-batch/jobs';\nexport { jobs };\n", /tagged with "scope:io"/],
    ['libs/io imports libs/run-format', 'libs/io/src/probe.ts', "import * as runFormat from '@siglip-batch/run-format';\nexport { runFormat };\n", /tagged with "scope:io"|Circular dependency between "io" and "run-format"/],
    ['libs/run-format imports libs/pipeline', 'libs/run-format/src/probe.ts', "import * as pipeline from '@siglip-batch/pipeline';\nexport { pipeline };\n", /tagged with "scope:run-format"|Circular dependency between "run-format" and "pipeline"/],
    ['libs/retrieval imports libs/pipeline', 'libs/retrieval/src/probe.ts', "import * as pipeline from '@siglip-batch/pipeline';\nexport { pipeline };\n", /tagged with "scope:retrieval"|Circular dependency between "retrieval" and "pipeline"/],
    ['libs/pipeline imports libs/retrieval', 'libs/pipeline/src/probe.ts', "import type { LanceTarget } from '@siglip-batch/retrieval';\nexport type { LanceTarget };\n", /tagged with "scope:pipeline"/],
    ['the worker imports libs/retrieval', 'apps/worker/src/probe.ts', "import * as retrieval from '@siglip-batch/retrieval';\nexport { retrieval };\n", /tagged with "scope:worker"/],
    ['the job contract imports libs/io', 'libs/jobs/src/probe.ts', "import * as io from '@siglip-batch/io';\nexport { io };\n", /tagged with "scope:jobs"|Circular dependency between "jobs" and "io"/],
    ['an app imports another app', 'apps/producer/src/probe.ts', "import * as worker from '../../worker/src/program';\nexport { worker };\n", /apps|project/i],
    ['a lib imports an app', 'libs/io/src/probe.ts', "import * as producer from '../../../apps/producer/src/program';\nexport { producer };\n", /apps|project/i],
  ];
  for (const [name, file, code, expected] of forbidden) {
    it(`refuses: ${name}`, async () => {
      const errors = await boundaryErrors(file, code);
      expect(errors.length, `no boundary error for ${name}`).toBeGreaterThan(0);
      expect(errors.join('\n')).toMatch(expected);
    });
  }

  const allowed: Array<[string, string, string]> = [
    ['the worker composes model, io and jobs', 'apps/worker/src/probe.ts', "import * as m from '@siglip-batch/model';\nimport * as i from '@siglip-batch/io';\nimport * as j from '@siglip-batch/jobs';\nexport { m, i, j };\n"],
    ['libs/run-format uses io and the job contract', 'libs/run-format/src/probe.ts', "import * as i from '@siglip-batch/io';\nimport * as j from '@siglip-batch/jobs';\nexport { i, j };\n"],
    ['libs/pipeline uses the run format', 'libs/pipeline/src/probe.ts', "import * as r from '@siglip-batch/run-format';\nexport { r };\n"],
    ['the producer uses libs/retrieval', 'apps/producer/src/probe.ts', "import * as r from '@siglip-batch/retrieval';\nexport { r };\n"],
    ['libs/retrieval uses model, io, the run format and the job contract', 'libs/retrieval/src/probe.ts', "import * as m from '@siglip-batch/model';\nimport * as i from '@siglip-batch/io';\nimport * as r from '@siglip-batch/run-format';\nimport * as j from '@siglip-batch/jobs';\nexport { m, i, r, j };\n"],
  ];
  for (const [name, file, code] of allowed) {
    it(`allows: ${name}`, async () => {
      expect(await boundaryErrors(file, code)).toEqual([]);
    });
  }
});

