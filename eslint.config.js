// Lint rules. The layering rule keeps src/core free of any framework and of the layers above it.
import js from '@eslint/js'
import tseslint from 'typescript-eslint'

const frameworks = [
  'express',
  'express4',
  'fastify',
  'fastify-plugin',
  '@fastify/*',
  'hono',
  'hono/*',
  'next',
  'next/*',
  'koa',
  'koa2',
  '@koa/*',
  '@nestjs/*',
  // The shared store's client belongs to src/redis, never to the core.
  'redis',
  '@redis/*',
  'ioredis',
  // gRPC belongs to src/grpc.
  '@grpc/*',
]

export default tseslint.config(
  {
    ignores: ['dist/**', 'node_modules/**', 'coverage/**', 'examples/**/public/**', '.scratch/**'],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        Buffer: 'readonly',
        URL: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        fetch: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
    },
  },
  {
    files: ['src/core/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: frameworks,
              message: 'src/core knows no framework: adapters import core, never the reverse.',
            },
            {
              group: [
                '../express/*',
                '../fastify/*',
                '../fetch/*',
                '../koa/*',
                '../nestjs/*',
                '../redis/*',
                '../grpc/*',
                '../emulator/*',
                '../testing/*',
                '../../*',
              ],
              message: 'src/core depends on nothing above it.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['src/emulator/**/*.ts', 'src/testing/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['../core/*'],
              message: 'the emulator uses the public API only: import from ../index.js',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['src/cli/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['../core/*', '../express/*', '../fastify/*', '../fetch/*', '../testing/*'],
              message: 'the CLI uses the public API only: import from ../index.js',
            },
            {
              group: ['../emulator/*', ...frameworks],
              message: 'the CLI talks to an IAM over HTTP and knows no framework',
            },
          ],
        },
      ],
    },
  },
)
