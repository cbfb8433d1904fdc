#!/bin/sh
# Installs the Debian 12 packages sparselaw builds, runs and tests with.
# Idempotent: only missing packages are fetched. Run as root (or with sudo available).
#   scripts/deps.sh          build + test dependencies
#   scripts/deps.sh serve    build dependencies and Node.js (npm installs the default corpus)
#   scripts/deps.sh runtime  only the shared libraries the server and the trainer need at run time
#   scripts/deps.sh bench    what bench/ compares against (wrk, scipy)
#   scripts/deps.sh e2e      build + test dependencies and the browser tests' (Chromium, Node.js)
#   scripts/deps.sh slurm    a real single-node Slurm for the Slurm backend's tests (scripts/slurm.sh)
#   scripts/deps.sh fuzz     build dependencies and clang's libFuzzer, for tests/fuzz/run.sh
#   scripts/deps.sh torch    build + test dependencies and PyTorch, for examples/torch_trainer.py
set -eu

build_pkgs="build-essential cmake pkg-config curl ca-certificates \
libmicrohttpd-dev libjansson-dev libgsl-dev libsqlite3-dev libcurl4-openssl-dev \
libopenblas-openmp-dev libcriterion-dev wrk python3"
bench_pkgs="wrk python3-scipy python3-numpy python3-torch"
# fonts: installed without recommends, Chromium would render screenshots without glyphs.
e2e_pkgs="chromium fonts-dejavu-core"
# slurm-wlm-jwt-plugin: slurmrestd over TCP authenticates with JWT.
slurm_pkgs="slurm-wlm slurmrestd slurm-wlm-jwt-plugin munge curl"
# libclang-rt-14-dev: libFuzzer and the sanitizer runtimes clang links in.
fuzz_pkgs="clang-14 libclang-rt-14-dev"
# Debian's PyTorch (CPU here; the example trainer uses CUDA where the build has it).
torch_pkgs="python3-torch python3-numpy"
runtime_pkgs="libmicrohttpd12 libjansson4 libgsl27 libsqlite3-0 libcurl4 libopenblas0-openmp \
libgomp1 curl ca-certificates"

case "${1:-build}" in
  build) want=$build_pkgs ;;
  runtime) want=$runtime_pkgs ;;
  bench) want="$build_pkgs $bench_pkgs" ;;
  slurm) want=$slurm_pkgs ;;
  serve) want=$build_pkgs ;;
  e2e) want="$build_pkgs $e2e_pkgs" ;;
  fuzz) want="$build_pkgs $fuzz_pkgs" ;;
  torch) want="$build_pkgs $torch_pkgs" ;;
  *) echo "usage: $0 [build|serve|runtime|bench|e2e|slurm|fuzz|torch]" >&2; exit 2 ;;
esac
case "${1:-build}" in
  serve|e2e)
    # A Node.js that brings its own npm (NodeSource) must not get Debian's npm on top.
    command -v npm >/dev/null 2>&1 || want="$want nodejs npm" ;;
esac

missing=""
for p in $want; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing:$missing" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
