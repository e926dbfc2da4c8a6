#!/usr/bin/env node
// Builds the native addon: through cmake-js when CMake is on the PATH (CPU backend, plus CUDA
// when nvcc is found), otherwise through node-gyp and binding.gyp (CPU backend only).
// cmake-js takes Node's headers from the node-api-headers package (package.json "binary"), so
// nothing is downloaded beyond the npm registry.

const { spawnSync } = require('node:child_process');
const path = require('node:path');

const root = path.resolve(__dirname, '..');

function onPath(command) {
  return spawnSync(command, ['--version'], { stdio: 'ignore' }).status === 0;
}

function run(command, args) {
  console.log(`> ${command} ${args.join(' ')}`);
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit', shell: false });
  if (result.status !== 0) process.exit(result.status ?? 1);
}

const extra = process.env.ALEXNET_CPU_ONLY ? ['--CDALEXNET_CPU_ONLY=ON'] : [];
if (onPath('cmake')) {
  run(process.execPath, [require.resolve('cmake-js/bin/cmake-js'), 'compile', ...extra]);
} else {
  console.log('alexnet-cudnn: CMake not found, building the CPU backend with node-gyp');
  const gyp = process.env.npm_config_node_gyp;
  if (gyp) run(process.execPath, [gyp, 'rebuild']);
  else run('npx', ['--yes', 'node-gyp', 'rebuild']);
}
