#!/usr/bin/env bash
# Fills the git-ignored .device/ folder with what the GPU machine lacks (../shared/GPU.md): Node
# itself (xz-compressed), the compiled JavaScript (dist/), the runtime packages the addon build
# and the checks need, and the PyTorch fixture of the small-AlexNet check. The sources (native/,
# CMakeLists.txt, scripts/) travel with the working tree. Run here, then on the GPU machine:
#   bash scripts/device/check.sh "$OUT"
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out="$root/.device"
cd "$root"

rm -rf "$out"
mkdir -p "$out/bin" "$out/node_modules"
npx tsc -p tsconfig.build.json --outDir "$out/dist"
xz -T2 -6 -c "$(command -v node)" > "$out/bin/node.xz"
# node-addon-api and node-api-headers: the headers CMake compiles the addon with (no cmake-js
# there: check.sh calls cmake itself). The decoders: imported by lib/ at load time.
for package in node-addon-api node-api-headers jpeg-js pngjs; do
  cp -RL "node_modules/$package" "$out/node_modules/$package"
done
# test/util/npy.ts reads fixtures from dist/test/fixtures.
mkdir -p "$out/dist/test/fixtures"
cp -R test/fixtures/small_alexnet "$out/dist/test/fixtures/small_alexnet"

# The npm package's prebuilt binary (npm run build:prebuilt), checked there without a build.
if [ -f prebuilds/linux-x64/alexnet_native.node ]; then
  mkdir -p "$out/prebuilt" && cp prebuilds/linux-x64/alexnet_native.node "$out/prebuilt/"
fi

size=$(du -sm "$out" | cut -f1)
echo "pack: .device/ holds ${size} MB (node $(node --version))"
if [ "$size" -gt 60 ]; then
  echo "pack: .device/ is over the 60 MB the GPU machine takes" >&2
  exit 1
fi
