#!/usr/bin/env bash
# Regenerates generated/: TypeScript declarations of every message and service client in
# ../../proto, made by @grpc/proto-loader's proto-loader-gen-types (needs `npm ci` first).
#
#   ./regen.sh [OUT_DIR]        (or: npm run regen)
#
# example.js loads the .proto files at run time with @grpc/proto-loader, with the same options
# as below, so these declarations describe exactly the objects it gets (editors and `tsc` use
# them). The output is committed; the client tests regenerate into a temporary directory and
# fail if it differs, so a proto change without a regeneration cannot go unnoticed.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
proto="$(cd "$here/../../proto" && pwd)"
out="${1:-$here/generated}"

rm -rf "$out"
mkdir -p "$out"
cd "$proto"
"$here/node_modules/.bin/proto-loader-gen-types" \
  --grpcLib=@grpc/grpc-js --outDir="$out" -I . \
  --keepCase --longs=String --enums=String --defaults --oneofs \
  switchboard/v1/*.proto
echo "generated $(find "$out" -name '*.ts' | wc -l) declaration files in $out"
