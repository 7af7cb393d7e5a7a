import js from '@eslint/js'
import nodePlugin from 'eslint-plugin-n'
import tseslint from 'typescript-eslint'

export default tseslint.config(
  { ignores: ['node_modules/**', '.sluice/**', '.scratch/**', 'sdk/**/dist/**', 'sdk/python/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    // Node APIs and builtins newer than the `engines` of the nearest package.json are errors: the
    // server's (>= 22.18) for the repo, the SDK's own (>= 20) for sdk/typescript.
    plugins: { n: nodePlugin },
    settings: { n: { tryExtensions: ['.ts', '.js'] } },
    rules: {
      'n/no-unsupported-features/node-builtins': 'error',
      'n/no-unsupported-features/es-builtins': 'error',
    },
  },
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-syntax': [
        'error',
        {
          selector: "MemberExpression[object.name='process'][property.name='env']",
          message: 'Read the environment once, in lib/config.ts (or scripts/ and test/ setup).',
        },
      ],
    },
  },
  {
    files: ['**/*.test.ts', 'test/**'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    files: ['lib/config.ts', 'scripts/**', 'test/**', 'bench/**', 'server.ts', '**/*.test.ts'],
    rules: { 'no-restricted-syntax': 'off' },
  },
)
