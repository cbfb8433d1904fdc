#!/bin/sh
# Installs what is missing, builds, and runs every test suite (unit, HTTP,
# the dashboard in headless Chromium).
#   scripts/test.sh [BUILD_DIR] [extra cmake args...]
set -eu
cd "$(dirname "$0")/.."
scripts/deps.sh e2e
scripts/deps.sh torch  # tests/http/test_profiles.py trains examples/torch_trainer.py
# The browser tests' npm packages, exactly as locked.
npm ci --no-audit --no-fund --loglevel=error
dir=${1:-build}
[ $# -gt 0 ] && shift
scripts/build.sh "$dir" "$@"
# SL_CTEST_ARGS: more ctest options (.ci/run gives the sanitizer suite a second try).
# shellcheck disable=SC2086
ctest --test-dir "$dir" --output-on-failure ${SL_CTEST_ARGS:-}
