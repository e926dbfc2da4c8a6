#!/usr/bin/env node
// `npm run build:prebuilt`: the binary shipped in the npm package, so that installing needs neither a
// compiler nor the CUDA toolkit. It is the CMake build with the CUDA backend (nvcc is required
// here, not on the user's machine: the CUDA runtime is linked statically and cuDNN/cuBLAS are
// opened at run time, as always) and ALEXNET_PREBUILD, which strips it and keeps the build
// folder's path out of it. It goes to prebuilds/<platform>-<arch>/ with a manifest.json saying
// what it needs of the machine (glibc and libstdc++ versions) and what it carries; `npm pack` then
// includes it, and the loader (lib/native.ts) uses it wherever no build from source is there.

const { spawnSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
/** Where the loader (lib/native.ts, lib/package-root.ts) looks for it. */
const PREBUILT = path.join(
  'prebuilds',
  `${process.platform}-${process.arch}`,
  'alexnet_native.node',
);

/** The newest of the versions `library`_X.Y[.Z] the binary's symbols ask for, e.g. 2.34. */
function newestVersion(binary, library) {
  const text = binary.toString('latin1');
  const versions = [...text.matchAll(new RegExp(`${library}_(\\d+(?:\\.\\d+)+)`, 'g'))].map(
    (m) => m[1],
  );
  const key = (v) =>
    v
      .split('.')
      .map((n) => n.padStart(4, '0'))
      .join('.');
  return versions.reduce((a, b) => (key(b) > key(a) ? b : a), '0');
}

/**
 * What the binary needs of the machine: the oldest glibc and libstdc++ (GLIBCXX symbol version,
 * 3.4.30 is GCC 12's) whose symbol versions cover all it asks for.
 */
function runtimeNeeds(file) {
  const binary = fs.readFileSync(file);
  return { glibc: newestVersion(binary, 'GLIBC'), glibcxx: newestVersion(binary, 'GLIBCXX') };
}

/** A line of `command --version` (0: the first, -1: the last), or 'unknown'. */
function versionLine(command, index) {
  const result = spawnSync(command, ['--version'], { encoding: 'utf8' });
  return result.status === 0 ? result.stdout.trim().split('\n').at(index) : 'unknown';
}

function main() {
  const out = 'build-prebuild';
  fs.rmSync(path.join(root, out), { recursive: true, force: true });
  const cmakeJs = require.resolve('cmake-js/bin/cmake-js');
  const args = [cmakeJs, 'compile', '--out', out, '--CDALEXNET_PREBUILD=ON'];
  console.log(`> node ${args.join(' ')}`);
  // No MPI backend: it links libmpi, which would make the binary fail to load wherever Open MPI
  // is not installed. --distributed needs a build from source (README).
  const env = { ...process.env, ALEXNET_NO_MPI: '1' };
  const build = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit', env });
  if (build.status !== 0) process.exit(build.status ?? 1);

  const built = path.join(root, out, 'Release', 'alexnet_native.node');
  const { backends } = require(built);
  if (!backends.includes('cuda')) {
    console.error('prebuild: the build has no CUDA backend: put nvcc on the PATH and run it again');
    process.exit(1);
  }
  const target = path.join(root, PREBUILT);
  fs.mkdirSync(path.dirname(target), { recursive: true });
  fs.copyFileSync(built, target);
  const bytes = fs.readFileSync(target);
  const manifest = {
    platform: process.platform,
    arch: process.arch,
    napi: 8,
    backends,
    ...runtimeNeeds(target),
    sha256: crypto.createHash('sha256').update(bytes).digest('hex'),
    bytes: bytes.length,
    compiler: versionLine('g++', 0),
    nvcc: versionLine('nvcc', -1),
    commit: spawnSync('git', ['rev-parse', 'HEAD'], { cwd: root, encoding: 'utf8' }).stdout.trim(),
  };
  fs.writeFileSync(
    path.join(path.dirname(target), 'manifest.json'),
    `${JSON.stringify(manifest, null, 2)}\n`,
  );
  console.log(
    `prebuild: ${PREBUILT} (${(bytes.length / 2 ** 20).toFixed(1)} MiB, glibc >= ${manifest.glibc}, libstdc++ GLIBCXX >= ${manifest.glibcxx}, sha256 ${manifest.sha256.slice(0, 16)}...)`,
  );
}

module.exports = { PREBUILT, runtimeNeeds };
if (require.main === module) main();
