#!/usr/bin/env bash
# tree-bench.sh: zcopy's framed mode against raw mode and `tar | nc` on
# loopback, in one run: a 1 GiB file, and a tree of 10,000 4 KiB files.
# Each line: wall seconds, GB/s or files/s, sender and receiver CPU seconds
# (user+sys, GNU time). Usage: scripts/tree-bench.sh [REPS]
set -euo pipefail
reps=${1:-3}
cd "$(dirname "$0")/.."
tmp=$(mktemp -d /tmp/zcopy-tree.XXXXXX)
trap 'rm -rf "$tmp"; kill $(jobs -p) 2>/dev/null || true' EXIT
go build -o "$tmp/zcopy" ./cmd/zcopy
z="$tmp/zcopy"
T=/usr/bin/time
mkdir -p "$tmp/big" "$tmp/small"
"$z" gen "$tmp/big/file.bin" --size 1GiB 2>/dev/null
for d in $(seq 0 99); do
	mkdir -p "$tmp/small/d$d"
	for f in $(seq 0 99); do head -c 4096 /dev/urandom > "$tmp/small/d$d/f$f"; done
done
cat "$tmp/big/file.bin" > /dev/null
tar cf - -C "$tmp" small > /dev/null
port=19700
cpu() { awk '{ print $2 + $3 }' "$1"; }
wall() { awk '{ print $1 }' "$1"; }

# measure NAME UNITS COUNT SENDER-CMD RECEIVER-CMD: the receiver listens.
measure() {
	local name=$1 units=$2 count=$3 scmd=$4 rcmd=$5
	rm -rf "$tmp/out"; mkdir -p "$tmp/out"
	port=$((port + 1))
	$T -f "%e %U %S" -o "$tmp/r.time" sh -c "${rcmd//PORT/$port}" >/dev/null 2>&1 &
	sleep 0.3
	$T -f "%e %U %S" -o "$tmp/s.time" sh -c "${scmd//PORT/$port}" >/dev/null 2>&1
	wait
	awk -v n="$name" -v u="$units" -v c="$count" -v w="$(wall "$tmp/s.time")" -v s="$(cpu "$tmp/s.time")" -v r="$(cpu "$tmp/r.time")" \
		'BEGIN { if (u == "GB/s") v = c/w/1e9; else v = c/w; printf "%-34s %7.3f s %10.2f %-7s sender %6.3f s CPU  receiver %6.3f s CPU\n", n, w, v, u, s, r }'
}

for rep in $(seq "$reps"); do
	echo "# rep $rep on $(uname -r), $(nproc) cores"
	B=$(stat -c %s "$tmp/big/file.bin")
	measure "1GiB zcopy framed (sendfile/splice)" GB/s $B \
		"$z send -q --to 127.0.0.1:PORT $tmp/big/file.bin" "$z recv -q --listen 127.0.0.1:PORT --dir $tmp/out"
	measure "1GiB zcopy framed (recv readwrite)" GB/s $B \
		"$z send -q --to 127.0.0.1:PORT $tmp/big/file.bin" "$z recv -q --method readwrite --listen 127.0.0.1:PORT --dir $tmp/out"
	measure "1GiB zcopy raw" GB/s $B \
		"$z send --raw -q --to 127.0.0.1:PORT $tmp/big/file.bin" "$z recv --raw -q --listen 127.0.0.1:PORT -o $tmp/out/file.bin"
	measure "1GiB tar | nc" GB/s $B \
		"tar cf - -C $tmp/big file.bin | nc -N 127.0.0.1 PORT" "nc -l 127.0.0.1 PORT | tar xf - -C $tmp/out"
	measure "10k x 4KiB zcopy framed" files/s 10000 \
		"$z send -q --to 127.0.0.1:PORT $tmp/small" "$z recv -q --listen 127.0.0.1:PORT --dir $tmp/out"
	measure "10k x 4KiB tar | nc" files/s 10000 \
		"tar cf - -C $tmp small | nc -N 127.0.0.1 PORT" "nc -l 127.0.0.1 PORT | tar xf - -C $tmp/out"
done
