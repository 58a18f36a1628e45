#!/usr/bin/env bash
# Runs the custsync benchmarks and prints a table of the measured figures.
#
#   bash bench/run.sh            full sizes (first imports of 100k, 1M and 3M rows, 1M-row no-op and deltas, ...):
#                                30-60 minutes on 2 cores, most of it the 4.1M creates of the first imports
#   bash bench/run.sh --quick    small sizes: a few minutes
#   bash bench/run.sh --only noop,delta   a subset (noop, delta, tps, unlimited, first, delta1m, xlsx, export, logins,
#                                long; delta1m and export use the tenant that first fills)
#   bash bench/run.sh --long     also the long phase: a first import of 10M rows and its no-op re-run, about an
#                                hour more and 30 GB of disk (skipped, saying so, where the disk has less free)
#
# Everything runs on loopback against a sandbox started by the suite; data, state files and binaries live in
# a temporary directory that is removed at the end (also on Ctrl-C). The peers that the figures are paired
# with are built from their modules: hey (github.com/rakyll/hey), vegeta (github.com/tsenart/vegeta) and csvdiff
# (github.com/aswinkarthik/csvdiff); curl and xlsx2csv are used when installed. A peer that cannot be had makes
# its figures n/a.
set -euo pipefail

cd "$(dirname "$0")/.."

args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) args+=(-quick) ;;
    --only) shift; args+=(-only "$1") ;;
    --only=*) args+=(-only "${1#--only=}") ;;
    --long) args+=(-long) ;;
    --no-email) args+=(-no-email) ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
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
mkdir -p "$work/data" "$work/tools"

echo "building the peers hey, vegeta and csvdiff ..." >&2
GOBIN="$work/tools" go install github.com/rakyll/hey@v0.1.5 >&2 || echo "hey could not be built; its figures are n/a" >&2
GOBIN="$work/tools" go install github.com/tsenart/vegeta/v12@v12.13.0 >&2 || echo "vegeta could not be built; its figures are n/a" >&2
# csvdiff's module is built from a throwaway module that requires it (go install of it asks the proxy for the
# module's version list, which the proxy refuses for this module).
mkdir -p "$work/csvdiff"
(
  cd "$work/csvdiff"
  printf 'module csvdiffbuild\ngo 1.22\nrequire github.com/aswinkarthik/csvdiff v1.4.0\n' > go.mod
  printf '//go:build tools\npackage tools\nimport _ "github.com/aswinkarthik/csvdiff"\n' > tools.go
  GOFLAGS=-mod=mod go mod tidy >&2 && GOFLAGS=-mod=mod go build -o "$work/tools/csvdiff" github.com/aswinkarthik/csvdiff >&2
) || echo "csvdiff could not be built; its figures are n/a" >&2
export PATH="$work/tools:$PATH"

# The suite stops its own children; it runs in the background so that the traps above can stop it.
"$work/benchtool" suite -custsync "$work/custsync" -work "$work/data" ${args[@]+"${args[@]}"} &
suite_pid=$!
wait "$suite_pid"
