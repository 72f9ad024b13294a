// Shared jest setup: TypeScript through @swc/jest, workspace packages resolved to their sources.
const path = require('node:path');
module.exports = (dir) => ({
  rootDir: dir,
  testEnvironment: 'node',
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  transform: { '^.+\\.(t|j)sx?$': ['@swc/jest', { jsc: { target: 'es2022', parser: { syntax: 'typescript' } } }] },
  moduleNameMapper: { '^@stellar/([a-z-]+)$': path.join(__dirname, 'packages/$1/src/index.ts') },
  testTimeout: 60000,
});
