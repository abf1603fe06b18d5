#!/usr/bin/env bash
# tree-bench.sh: zcopy's framed mode against raw mode and `tar | nc` on
# loopback, in one run: a 1 GiB file, and a tree of 10,000 4 KiB files.
# Each line: wall seconds from the sender's start until both ends have
# exited (the receiver's files are all written), GB/s or files/s, and the
# sender's and receiver's CPU seconds (user+sys, GNU time; the receiver's
# side of `tar | nc` is nc and tar together). Every transfer writes into a
# fresh directory, removed and synced before the next, so no run pays for
# another's writeback. Tools take turns within each repetition.
#
# Usage: scripts/tree-bench.sh [REPS]
# Environment: TMPFS=1 receives into a tmpfs (CPU only: no disk, no
# journal); ONLY=small or ONLY=big runs one half.
set -euo pipefail
reps=${1:-3}
only=${ONLY:-}
cd "$(dirname "$0")/.."
for tool in nc tar; do
	command -v "$tool" >/dev/null || { echo "tree-bench: $tool is missing" >&2; exit 1; }
done
[ -x /usr/bin/time ] || { echo "tree-bench: GNU time (/usr/bin/time) is missing" >&2; exit 1; }
tmp=$(mktemp -d /tmp/zcopy-tree.XXXXXX)
dest=$tmp/dest
mkdir -p "$dest"
cleanup() {
	kill $(jobs -p) 2>/dev/null || true
	wait 2>/dev/null || true
	if [ -n "${TMPFS:-}" ]; then umount "$dest" 2>/dev/null || true; fi
	rm -rf "$tmp"
}
trap cleanup EXIT
if [ -n "${TMPFS:-}" ]; then
	mount -t tmpfs -o size=3g tmpfs "$dest"
fi
go build -o "$tmp/zcopy" ./cmd/zcopy
z="$tmp/zcopy"
T=/usr/bin/time
# One token for both ends (a listening end without one makes its own).
ZCOPY_TOKEN=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
export ZCOPY_TOKEN
mkdir -p "$tmp/big" "$tmp/small"
"$z" gen "$tmp/big/file.bin" --size 1GiB 2>/dev/null
for d in $(seq 0 99); do
	mkdir -p "$tmp/small/d$d"
	for f in $(seq 0 99); do head -c 4096 /dev/urandom > "$tmp/small/d$d/f$f"; done
done
cat "$tmp/big/file.bin" > /dev/null
tar cf - -C "$tmp" small > /dev/null
port=19700
n=0
now() { date +%s.%N; }
cpu() { awk '{ print $2 + $3 }' "$1"; }

# measure NAME UNITS COUNT SENDER-CMD RECEIVER-CMD: the receiver listens
# on PORT and writes into OUT.
measure() {
	local name=$1 units=$2 count=$3 scmd=$4 rcmd=$5
	n=$((n + 1))
	port=$((port + 1))
	local out="$dest/out$n"
	mkdir -p "$out"
	rcmd=${rcmd//PORT/$port}
	$T -f "%e %U %S" -o "$tmp/r.time" sh -c "${rcmd//OUT/$out}" >/dev/null 2>&1 &
	local rpid=$!
	sleep 0.3
	local t0 t1
	t0=$(now)
	$T -f "%e %U %S" -o "$tmp/s.time" sh -c "${scmd//PORT/$port}" >/dev/null 2>&1
	wait "$rpid"
	t1=$(now)
	awk -v n="$name" -v u="$units" -v c="$count" -v w="$(echo "$t1 - $t0" | bc)" -v s="$(cpu "$tmp/s.time")" -v r="$(cpu "$tmp/r.time")" \
		'BEGIN { if (u == "GB/s") v = c/w/1e9; else v = c/w; printf "%-34s %7.3f s %10.2f %-7s sender %6.3f s CPU  receiver %6.3f s CPU\n", n, w, v, u, s, r }'
	rm -rf "$out"
	sync
}

fs=$(stat -f -c %T "$dest")
for rep in $(seq "$reps"); do
	echo "# rep $rep on $(uname -r), $(nproc) cores, receiving into $fs"
	B=$(stat -c %s "$tmp/big/file.bin")
	if [ "$only" != small ]; then
		measure "1GiB zcopy framed encrypted (TLS, the default)" GB/s $B \
			"$z send -q --to 127.0.0.1:PORT $tmp/big/file.bin" "$z recv -q --listen 127.0.0.1:PORT --dir OUT"
		measure "1GiB zcopy framed --plaintext (sendfile/splice)" GB/s $B \
			"$z send -q --plaintext --to 127.0.0.1:PORT $tmp/big/file.bin" "$z recv -q --plaintext --listen 127.0.0.1:PORT --dir OUT"
		measure "1GiB zcopy framed --plaintext (recv readwrite)" GB/s $B \
			"$z send -q --plaintext --to 127.0.0.1:PORT $tmp/big/file.bin" "$z recv -q --plaintext --method readwrite --listen 127.0.0.1:PORT --dir OUT"
		measure "1GiB zcopy raw" GB/s $B \
			"$z send --raw -q --to 127.0.0.1:PORT $tmp/big/file.bin" "$z recv --raw -q --listen 127.0.0.1:PORT -o OUT/file.bin"
		measure "1GiB tar | nc" GB/s $B \
			"tar cf - -C $tmp/big file.bin | nc -N 127.0.0.1 PORT" "nc -l 127.0.0.1 PORT | tar xf - -C OUT"
	fi
	if [ "$only" != big ]; then
		measure "10k x 4KiB zcopy framed encrypted (TLS)" files/s 10000 \
			"$z send -q --to 127.0.0.1:PORT $tmp/small" "$z recv -q --listen 127.0.0.1:PORT --dir OUT"
		measure "10k x 4KiB zcopy framed --plaintext" files/s 10000 \
			"$z send -q --plaintext --to 127.0.0.1:PORT $tmp/small" "$z recv -q --plaintext --listen 127.0.0.1:PORT --dir OUT"
		measure "10k x 4KiB tar | nc" files/s 10000 \
			"tar cf - -C $tmp small | nc -N 127.0.0.1 PORT" "nc -l 127.0.0.1 PORT | tar xf - -C OUT"
	fi
done
