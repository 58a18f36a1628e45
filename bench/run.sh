#!/usr/bin/env bash
# Runs the custsync benchmarks and prints a table of the measured figures.
#
#   bash bench/run.sh            full sizes (1M-row no-op, 100k delta, ...): about 5 minutes on 2 cores
#   bash bench/run.sh --quick    small sizes: under a minute
#   bash bench/run.sh --only noop,delta   a subset (noop, delta, tps, unlimited, xlsx, export)
#
# Everything runs on loopback against a sandbox started by the suite; data, state files and binaries live in
# a temporary directory that is removed at the end (also on Ctrl-C).
set -euo pipefail

cd "$(dirname "$0")/.."

args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) args+=(-quick) ;;
    --only) shift; args+=(-only "$1") ;;
    --only=*) args+=(-only "${1#--only=}") ;;
    --no-email) args+=(-no-email) ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done

work="$(mktemp -d "${TMPDIR:-/tmp}/custsync-bench.XXXXXX")"
suite_pid=""
cleanup() {
  if [ -n "$suite_pid" ] && kill -0 "$suite_pid" 2>/dev/null; then
    kill -TERM "$suite_pid" 2>/dev/null || true
    wait "$suite_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "building custsync and benchtool into $work ..." >&2
go build -o "$work/custsync" ./cmd/custsync
go build -o "$work/benchtool" ./bench/cmd/benchtool
mkdir -p "$work/data"

# The suite stops its own children; it runs in the background so that the traps above can stop it.
"$work/benchtool" suite -custsync "$work/custsync" -work "$work/data" ${args[@]+"${args[@]}"} &
suite_pid=$!
wait "$suite_pid"
