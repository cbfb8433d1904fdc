#!/bin/sh
# Installs what is missing, builds, and starts sparselawd with its defaults
# (port 8080 on 127.0.0.1, data in ./sparselaw-data). Extra arguments go to
# the server, e.g. scripts/serve.sh --port 9000.
set -eu
cd "$(dirname "$0")/.."
scripts/deps.sh serve
# The trainer's default corpus (and the dashboard's uPlot) as locked; no test tools.
npm ci --omit=dev --no-audit --no-fund --loglevel=error
scripts/build.sh build
exec build/sparselawd "$@"
