#!/bin/sh
# Configures and builds sparselaw into a build directory.
#   scripts/build.sh [BUILD_DIR] [extra cmake args...]
# e.g. scripts/build.sh build-asan -DSL_SANITIZE=ON
set -eu
cd "$(dirname "$0")/.."
dir=${1:-build}
[ $# -gt 0 ] && shift
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
cmake --build "$dir" -j "$(nproc)"
