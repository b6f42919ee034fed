/** Jest runs the TypeScript tests directly (ts-jest, transpile only: `npm run build` type-checks first). */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { isolatedModules: true, diagnostics: false }] },
  testTimeout: 60000,
  // Three on two cores: the integration tests mostly wait on Dovecot, SMTP and timers, not the CPU.
  maxWorkers: 3,
};
