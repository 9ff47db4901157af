import nx from '@nx/eslint-plugin';

/**
 * Layering of the workspace, enforced on every import (docs/architecture.md §1.1):
 * - apps compose libs and never import each other;
 * - libs never import apps;
 * - libs/model knows nothing of queues, S3 or the job contract;
 * - libs/io (object stores, Parquet codec) imports no other lib;
 * - libs/run-format (the run folder: layout, documents, Parquet files) builds on io and jobs only;
 * - libs/jobs (the job contract) stands alone;
 * - libs/pipeline (planner, shard processor, finaliser, run registry) composes model, io and
 *   jobs so that the producer, the worker and one-process mode run the very same code, and
 *   never imports libs/retrieval;
 * - libs/retrieval (search, vector cache, LanceDB index, retag) reads finished runs with model,
 *   io, the run format and jobs, and never imports libs/pipeline.
 */
export const depConstraints = [
  { sourceTag: 'type:app', onlyDependOnLibsWithTags: ['type:lib'] },
  { sourceTag: 'type:lib', onlyDependOnLibsWithTags: ['type:lib'] },
  { sourceTag: 'scope:model', onlyDependOnLibsWithTags: ['scope:model'] },
  { sourceTag: 'scope:io', onlyDependOnLibsWithTags: ['scope:io'] },
  { sourceTag: 'scope:run-format', onlyDependOnLibsWithTags: ['scope:run-format', 'scope:io', 'scope:jobs'] },
  { sourceTag: 'scope:jobs', onlyDependOnLibsWithTags: ['scope:jobs'] },
  { sourceTag: 'scope:pipeline', onlyDependOnLibsWithTags: ['scope:pipeline', 'scope:run-format', 'scope:jobs', 'scope:io', 'scope:model'] },
  { sourceTag: 'scope:retrieval', onlyDependOnLibsWithTags: ['scope:retrieval', 'scope:run-format', 'scope:jobs', 'scope:io', 'scope:model'] },
  { sourceTag: 'scope:producer', onlyDependOnLibsWithTags: ['scope:pipeline', 'scope:retrieval', 'scope:run-format', 'scope:jobs', 'scope:io', 'scope:model'] },
  { sourceTag: 'scope:worker', onlyDependOnLibsWithTags: ['scope:pipeline', 'scope:run-format', 'scope:jobs', 'scope:io', 'scope:model'] },
];

export default [
  {
    ignores: ['**/node_modules/**', '**/dist/**', '.nx/**', '.venv/**', 'models/**', 'fixtures/**', 'coverage/**', '.test-output/**', 'libs/model/assembly/**'],
  },
  ...nx.configs['flat/base'],
  ...nx.configs['flat/typescript'],
  ...nx.configs['flat/javascript'],
  {
    files: ['**/*.ts', '**/*.mts', '**/*.js', '**/*.mjs'],
    rules: {
      '@nx/enforce-module-boundaries': [
        'error',
        {
          enforceBuildableLibDependency: false,
          allow: [],
          depConstraints,
        },
      ],
      // noUncheckedIndexedAccess is on: a checked `match[1]!` is clearer than a cast.
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
    },
  },
  {
    // What `siglip-batch --help` and `--version` load: no lib's index, which would bring in every
    // module it names (and their npm packages). A lib gives these files an entry of their own
    // (`@siglip-batch/io/secret-redaction`, `@siglip-batch/jobs/error-message`, …).
    files: ['apps/producer/src/main.ts', 'apps/producer/src/program.ts', 'apps/producer/src/command-help.ts', 'apps/producer/src/shared/cli-log.ts', 'apps/producer/src/shared/exit-codes.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [{ regex: '^@siglip-batch/[\\w-]+$', message: "the start-up path imports a lib's own small entry (its package.json exports), not its index" }],
        },
      ],
    },
  },
];
