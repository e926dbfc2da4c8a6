/** @type {import('jest').Config} */
module.exports = {
  preset: 'ts-jest',
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  // Ops at AlexNet's real shapes take seconds on 2 cores.
  testTimeout: 120000,
};
