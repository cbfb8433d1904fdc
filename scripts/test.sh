#!/bin/sh
# Installs what is missing, builds, and runs every test suite (unit, HTTP).
#   scripts/test.sh [BUILD_DIR] [extra cmake args...]
set -eu
cd "$(dirname "$0")/.."
scripts/deps.sh
dir=${1:-build}
[ $# -gt 0 ] && shift
scripts/build.sh "$dir" "$@"
ctest --test-dir "$dir" --output-on-failure
