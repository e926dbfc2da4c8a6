#!/usr/bin/env node
// Checks (or with --fix, applies) the repository's .clang-format on every C++/CUDA source under
// native/. Fails with the list of files to reformat.

const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const fix = process.argv.includes('--fix');

function sources(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sources(full);
    return /\.(cc|h|cu|cuh|inc)$/.test(entry.name) ? [full] : [];
  });
}

const files = sources(path.join(root, 'native'));
const args = fix ? ['-i', ...files] : ['--dry-run', '--Werror', ...files];
const result = spawnSync('clang-format', args, { cwd: root, encoding: 'utf8' });
if (result.error) {
  console.error(
    `clang-format could not run (${result.error.message}); install it (apt-get install clang-format)`,
  );
  process.exit(1);
}
if (result.status !== 0) {
  const bad = [
    ...new Set(
      [...result.stderr.matchAll(/^(\S+?):\d+:\d+: error/gm)].map((m) => path.relative(root, m[1])),
    ),
  ];
  console.error(
    `clang-format: these files need formatting (npm run format):\n  ${bad.join('\n  ')}`,
  );
  process.exit(1);
}
console.log(`clang-format: ${files.length} files ok`);
