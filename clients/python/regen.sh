#!/usr/bin/env bash
# Regenerates the Python messages and stubs in generated/ from ../../proto.
#
#   ./regen.sh            uses .venv/bin/python (python3 -m venv .venv && .venv/bin/pip install -r requirements.txt)
#   PYTHON=/path/to/python ./regen.sh [OUT_DIR]
#
# The output is committed; the client tests regenerate into a temporary directory and fail if
# it differs from generated/, so a proto change without a regeneration cannot go unnoticed.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
proto="$(cd "$here/../../proto" && pwd)"
python="${PYTHON:-$here/.venv/bin/python}"
out="${1:-$here/generated}"

rm -rf "$out"
mkdir -p "$out"
cd "$proto"
"$python" -m grpc_tools.protoc -I . \
  --python_out="$out" --pyi_out="$out" --grpc_python_out="$out" \
  switchboard/v1/*.proto
touch "$out/switchboard/__init__.py" "$out/switchboard/v1/__init__.py"
echo "generated $(find "$out" -name '*.py' | wc -l) Python files in $out"
