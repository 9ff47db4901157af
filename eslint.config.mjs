import nx from '@nx/eslint-plugin';

/**
 * Layering of the workspace, enforced on every import (docs/architecture.md §1.1):
 * - apps compose libs and never import each other;
 * - libs never import apps;
 * - libs/model knows nothing of queues, S3 or the job contract;
 * - libs/io knows nothing of the model;
 * - libs/jobs (the job contract) stands alone;
 * - libs/pipeline (planner, shard processor, finaliser, run registry) composes model, io and
 *   jobs so that the producer, the worker and one-process mode run the very same code.
 */
export const depConstraints = [
  { sourceTag: 'type:app', onlyDependOnLibsWithTags: ['type:lib'] },
  { sourceTag: 'type:lib', onlyDependOnLibsWithTags: ['type:lib'] },
  { sourceTag: 'scope:model', onlyDependOnLibsWithTags: ['scope:model'] },
  { sourceTag: 'scope:io', onlyDependOnLibsWithTags: ['scope:io', 'scope:jobs'] },
  { sourceTag: 'scope:jobs', onlyDependOnLibsWithTags: ['scope:jobs'] },
  { sourceTag: 'scope:pipeline', onlyDependOnLibsWithTags: ['scope:pipeline', 'scope:jobs', 'scope:io', 'scope:model'] },
  { sourceTag: 'scope:producer', onlyDependOnLibsWithTags: ['scope:pipeline', 'scope:jobs', 'scope:io', 'scope:model'] },
  { sourceTag: 'scope:worker', onlyDependOnLibsWithTags: ['scope:pipeline', 'scope:jobs', 'scope:io', 'scope:model'] },
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
];
