/**
 * Preloaded with `node -r test/util/block-sharp.js`: require('sharp') fails as it does after an
 * install that skipped or failed the optional dependency, in the main thread and in every worker
 * thread (Node runs --require preloads in workers too), so the decode workers' fallback is tested
 * as a user without sharp meets it.
 */
const Module = require('node:module');

const resolve = Module._resolveFilename;
Module._resolveFilename = function resolveWithoutSharp(request, ...rest) {
  if (request === 'sharp') {
    const error = new Error("Cannot find module 'sharp'");
    error.code = 'MODULE_NOT_FOUND';
    throw error;
  }
  return resolve.call(this, request, ...rest);
};
