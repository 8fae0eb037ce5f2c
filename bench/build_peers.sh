#!/usr/bin/env bash
# Builds the peers of ../../shared/peers (and the tools the benchmarks drive) into $WORK/bin.
# Sources are copied to $WORK to build; nothing is built in the peers' folder or committed here.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PEERS=${PEERS:-$(cd "$HERE/../../shared/peers" 2>/dev/null && pwd || true)}
WORK=${WORK:-/tmp/switchboard-bench}
[ -d "$PEERS/seed-go" ] || { echo "peers not found at $PEERS (set PEERS=...)" >&2; exit 1; }
mkdir -p "$WORK/bin"

need=()
command -v h2load >/dev/null || need+=(nghttp2-client)
command -v wrk >/dev/null || need+=(wrk)
command -v go >/dev/null || need+=(golang-go)
command -v redis-server >/dev/null || need+=(redis-server)
[ -d /usr/share/gocode/src/google.golang.org/grpc ] || need+=(golang-google-grpc-dev)
command -v protoc-gen-go >/dev/null || need+=(golang-goprotobuf-dev)
command -v protoc >/dev/null || need+=(protobuf-compiler)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

# The seed's Go servers and load generators (stdlib only, GOPATH mode, offline).
for d in rest-users chat kv binproto echo load/kvload load/chatload load/binload load/restprep; do
  (cd "$PEERS/seed-go/$d" && GO111MODULE=off GOFLAGS= GOCACHE="$WORK/gocache" go build -o "$WORK/bin/seed-$(basename "$d")" .)
done
cp "$PEERS/seed-go/load/wrk/"*.lua "$WORK/"

# Bare tonic echo: the ceiling for a tonic service.
T="$WORK/tonic-echo"
mkdir -p "$T/proto" "$T/src/bin"
cp "$PEERS/grpc-echo/proto/echo.proto" "$T/proto/"
cp "$PEERS/grpc-echo/tonic-echo/Cargo.toml" "$PEERS/grpc-echo/tonic-echo/build.rs" "$T/"
cp "$PEERS/grpc-echo/tonic-echo/src/lib.rs" "$T/src/"
cp "$PEERS/grpc-echo/tonic-echo/src/bin/server.rs" "$T/src/bin/"
cp "$PEERS/grpc-echo/tonic-echo/src/bin/check.rs" "$T/src/bin/"
(cd "$T" && cargo build --release -q)
cp "$T/target/release/server" "$WORK/bin/tonic-echo"

# grpc-go echo, against Debian's packaged gRPC sources.
G="$WORK/gopath/src/perfanchor"
mkdir -p "$G/echopb" "$G/goecho"
cp "$PEERS/grpc-echo/proto/echo.proto" "$G/echopb/"
cp "$PEERS/grpc-echo/go/goecho/main.go" "$G/goecho/"
(cd "$G/echopb" && protoc --go_out=plugins=grpc,paths=source_relative:. echo.proto)
(cd "$WORK" && env GO111MODULE=off GOPROXY=off GOFLAGS= GOPATH="$WORK/gopath:/usr/share/gocode" \
   GOCACHE="$WORK/gocache" go build -o "$WORK/bin/goecho" perfanchor/goecho)
echo "peers built into $WORK/bin"
