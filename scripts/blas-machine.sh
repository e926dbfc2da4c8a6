#!/bin/bash
# Runs a command as it would run on a Debian machine with another set of BLAS libraries than this
# one (issue 28: the suite must pass whichever set CI's machine has):
#
#   scripts/blas-machine.sh both|openblas|reference|neither <command...>
#
#   both       this machine as it is (libblas3 and libopenblas0-pthread installed);
#   openblas   only OpenBLAS: the reference BLAS's folder is empty;
#   reference  only the reference BLAS, with the reference LAPACK apt would install beside it for
#              python3-torch (liblapack3, unpacked from `apt-get download`), both chosen by the
#              libblas.so.3 / liblapack.so.3 alternatives as update-alternatives would;
#   neither    no BLAS, so none of Debian's python3-numpy, -torch, -torchvision and -onnx, which
#              depend on one: their folders are left out of dist-packages.
#
# Both libraries must be installed here. The command runs in a private mount namespace (root,
# util-linux's unshare), where empty tmpfs mounts hide folders and bind mounts replace them;
# nothing outside it changes. Example:
#   scripts/blas-machine.sh neither npx jest test/torch-blas.test.ts test/checkpoint-readers.test.ts
set -euo pipefail

usage() {
  echo "usage: $0 both|openblas|reference|neither <command...>" >&2
  exit 2
}
[ $# -ge 2 ] || usage
machine=$1
shift
case $machine in both | openblas | reference | neither) ;; *) usage ;; esac

lib=/usr/lib/x86_64-linux-gnu
for f in "$lib/blas/libblas.so.3" "$lib/openblas-pthread/libblas.so.3"; do
  [ -e "$f" ] || { echo "$0: needs both BLAS libraries installed; $f is missing" >&2; exit 2; }
done

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
if [ "$machine" = reference ]; then
  chmod a+rwx "$scratch" # apt downloads as its own user, _apt
  (cd "$scratch" && apt-get download -q liblapack3 >/dev/null && dpkg-deb -x liblapack3_*.deb root)
  # The mount point must exist: an empty folder where liblapack3 installs its files, removed after.
  if [ ! -d "$lib/lapack" ]; then
    mkdir "$lib/lapack"
    trap 'rm -rf "$scratch"; rmdir "$lib/lapack"' EXIT
  fi
fi

# Runs inside the namespace: $1 the machine, $2 the scratch folder, then the command.
inside='
set -euo pipefail
machine=$1 scratch=$2 lib=/usr/lib/x86_64-linux-gnu
shift 2
case $machine in
  openblas) mount -t tmpfs none "$lib/blas" ;;
  reference)
    mount -t tmpfs none "$lib/openblas-pthread"
    mount --bind "$scratch/root$lib/lapack" "$lib/lapack"
    mkdir "$scratch/alternatives"
    cp -a /etc/alternatives/. "$scratch/alternatives/"
    ln -sfn "$lib/blas/libblas.so.3" "$scratch/alternatives/libblas.so.3-x86_64-linux-gnu"
    ln -sfn "$lib/lapack/liblapack.so.3" "$scratch/alternatives/liblapack.so.3-x86_64-linux-gnu"
    mount --bind "$scratch/alternatives" /etc/alternatives ;;
  neither)
    mount -t tmpfs none "$lib/blas"
    mount -t tmpfs none "$lib/openblas-pthread"
    # An empty folder in its place would import as a namespace package, so the packages that
    # need a BLAS are left out of copies of the dist-packages folders made of links.
    for packages in /usr/lib/python3/dist-packages /usr/lib/python3.11/dist-packages; do
      [ -d "$packages" ] || continue
      copy=$(mktemp -d -p "$scratch")
      for entry in "$packages"/*; do
        case $(basename "$entry") in
          numpy | numpy-* | torch | torch-* | torchvision | torchvision-* | onnx | onnx-*) ;;
          *) ln -s "$entry" "$copy/" ;;
        esac
      done
      mount --bind "$copy" "$packages"
    done ;;
esac
"$@"
'
unshare --mount --propagation private bash -c "$inside" bash "$machine" "$scratch" "$@"
