#!/usr/bin/env bash
# many-files.sh: an honest tree of many empty files (1,000,000 by default,
# a thousand to a directory) sent by zcopy send to zcopy recv over
# loopback, with the default limits (issue 14: a receiver holds the whole
# manifest, and must still take a real tree this large). It prints the
# wall seconds from the sender's start until both ends have exited, and
# each end's peak resident memory (VmHWM, from its --json) and its own
# figures. Too slow for the test suites (a minute or more); run it by
# hand after a change to what a receiver holds per entry.
#
# Usage: scripts/many-files.sh [FILES]
# Environment: DIR=path puts the tree and its copy there (default: a new
# directory under $TMPDIR or /tmp; a tmpfs measures CPU, a disk the disk).
set -euo pipefail
files=${1:-1000000}
per=1000
cd "$(dirname "$0")/.."
tmp=$(mktemp -d "${DIR:-${TMPDIR:-/tmp}}/zcopy-many.XXXXXX")
cleanup() {
	kill $(jobs -p) 2>/dev/null || true
	wait 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
go build -o "$tmp/zcopy" ./cmd/zcopy
z="$tmp/zcopy"
src="$tmp/src/tree"
dirs=$(((files + per - 1) / per))
echo "# making $files empty files in $dirs directories under $tmp"
for d in $(seq 0 $((dirs - 1))); do
	mkdir -p "$src/d$d"
	n=$((files - d * per < per ? files - d * per : per))
	(cd "$src/d$d" && seq -f "file-%06g" 0 $((n - 1)) | xargs touch)
done
now() { date +%s.%N; }
# One token for both ends (a listening end without one makes its own).
ZCOPY_TOKEN=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
export ZCOPY_TOKEN
"$z" recv --listen 127.0.0.1:0 --dir "$tmp/dst" --json >"$tmp/recv.json" 2>"$tmp/recv.log" &
rpid=$!
for _ in $(seq 100); do
	addr=$(sed -n 's/.*listening on \([^ ]*\).*/\1/p' "$tmp/recv.log")
	[ -n "$addr" ] && break
	sleep 0.1
done
[ -n "$addr" ] || { echo "many-files: the receiver did not listen: $(cat "$tmp/recv.log")" >&2; exit 1; }
t0=$(now)
"$z" send --to "$addr" --json "$src" >"$tmp/send.json" 2>"$tmp/send.log" || { cat "$tmp/send.log" >&2; exit 1; }
wait "$rpid" || { cat "$tmp/recv.log" >&2; exit 1; }
t1=$(now)
got=$(find "$tmp/dst/tree" -type f | wc -l)
[ "$got" -eq "$files" ] || { echo "many-files: $got of $files files arrived" >&2; exit 1; }
field() { sed -n "s/.*\"$2\":\\([0-9.]*\\).*/\\1/p" "$1"; }
echo "# $(uname -r), $(nproc) cores, $(stat -f -c %T "$tmp"), $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
awk -v f="$files" -v w="$(echo "$t1 - $t0" | bc)" \
	-v sr="$(field "$tmp/send.json" peak_rss_kib)" -v rr="$(field "$tmp/recv.json" peak_rss_kib)" \
	-v ss="$(field "$tmp/send.json" seconds)" -v rs="$(field "$tmp/recv.json" seconds)" \
	'BEGIN { printf "%d empty files: %.1f s wall (%.0f files/s); sender %.1f s, peak RSS %.0f MiB; receiver %.1f s, peak RSS %.0f MiB\n", f, w, f / w, ss, sr / 1024, rs, rr / 1024 }'
