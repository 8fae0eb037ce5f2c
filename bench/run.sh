#!/usr/bin/env bash
# One command for the side-by-side benchmarks: builds Switchboard (release), its load
# generator and the peers, then runs bench.py. `--quick` is a smoke run (figures meaningless).
#   bench/run.sh [--quick] [--pairs N] [--duration S] [--only REGEX]
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export WORK=${WORK:-/tmp/switchboard-bench}
cd "$HERE/.."
cargo build --release --locked -p switchboard -p switchboard-loadgen
"$HERE/build_peers.sh"
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
exec python3 "$HERE/bench.py" "$@"
