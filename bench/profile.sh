#!/usr/bin/env bash
# One command for a CPU profile of one workload against the release binary:
#   [LOG=info|warn] bench/profile.sh [rest-get|grpc-echo] [SECONDS]
# Starts `switchboard --storage memory` on loopback (default configuration otherwise: the
# access log on, into a file; LOG=warn profiles without it), loads it (wrk for REST, h2load for gRPC),
# samples it with perf (software cpu-clock, so it works where hardware counters are not
# exposed, as on this VM), and prints the hottest symbols. With inferno installed
# (`cargo install inferno`), also writes a flame graph to $WORK/profile-<workload>.svg.
# Installs linux-perf, wrk and nghttp2-client from Debian when missing.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
WORK=${WORK:-/tmp/switchboard-bench}
WORKLOAD=${1:-rest-get}
SECONDS_TO_SAMPLE=${2:-10}
LOG=${LOG:-info}
GRPC=127.0.0.1:50161
HTTP=127.0.0.1:50162
mkdir -p "$WORK"

need=()
command -v perf >/dev/null || need+=(linux-perf)
command -v wrk >/dev/null || need+=(wrk)
command -v h2load >/dev/null || need+=(nghttp2-client)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
(cd "$ROOT" && cargo build --release --locked -p switchboard)

"$ROOT/target/release/switchboard" --storage memory --listen "$GRPC" --http-listen "$HTTP" \
  --legacy-kv-listen off --legacy-chat-listen off --legacy-echo-listen off --legacy-binary-listen off \
  --log "$LOG" >"$WORK/profile-server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 50); do curl -sf "http://$HTTP/v1/ping" >/dev/null && break; sleep 0.1; done

case "$WORKLOAD" in
  rest-get)
    ids="$WORK/profile-ids.txt"
    : >"$ids"
    for i in $(seq 200); do
      curl -sf -X POST "http://$HTTP/v1/users" -H 'content-type: application/json' \
        -d "{\"username\":\"p$i\",\"email\":\"p$i@example.test\",\"age\":30}" |
        sed -E 's/.*"id":"([0-9]+)".*/\1/' >>"$ids"
    done
    load=(env WRK_PREFIX=/v1/users WRK_IDS="$ids" wrk -t 2 -c 50 -d "$((SECONDS_TO_SAMPLE + 2))s"
      -s "$HERE/wrk/rest_get_user.lua" "http://$HTTP")
    ;;
  grpc-echo)
    body="$WORK/profile-echo.bin"
    # EchoRequest { message: 100 × "x" }, gRPC-framed.
    python3 -c "import sys,struct; m=b'\n\x64'+b'x'*100; sys.stdout.buffer.write(b'\0'+struct.pack('>I',len(m))+m)" >"$body"
    load=(h2load -c 50 -m 10 -D "$((SECONDS_TO_SAMPLE + 2))" -d "$body" -H 'content-type: application/grpc'
      -H 'te: trailers' "http://$GRPC/switchboard.v1.EchoService/Echo")
    ;;
  *) echo "unknown workload $WORKLOAD (rest-get | grpc-echo)" >&2; exit 2 ;;
esac

"${load[@]}" >"$WORK/profile-load.txt" 2>&1 &
LOAD=$!
sleep 1
perf record -F 499 -e cpu-clock -g -p "$SERVER" -o "$WORK/profile.data" -- sleep "$SECONDS_TO_SAMPLE" 2>/dev/null
wait $LOAD || true
perf report -i "$WORK/profile.data" --stdio --no-children --sort symbol 2>/dev/null | grep -E '^ +[0-9]' | head -40
if command -v inferno-collapse-perf >/dev/null && command -v inferno-flamegraph >/dev/null; then
  perf script -i "$WORK/profile.data" 2>/dev/null | inferno-collapse-perf | inferno-flamegraph >"$WORK/profile-$WORKLOAD.svg"
  echo "flame graph: $WORK/profile-$WORKLOAD.svg"
fi
tail -n 12 "$WORK/profile-load.txt"
