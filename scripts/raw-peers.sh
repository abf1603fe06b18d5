#!/usr/bin/env bash
# raw-peers.sh: zcopy's raw sender/receiver against peers that move the same
# file over loopback in the same run: iperf3 -F (file-reading sender) and nc.
# Prints, per case: wall seconds, GB/s, and sender/receiver CPU seconds
# (user+sys, from GNU time). Usage: scripts/raw-peers.sh [SIZE] [REPS]
set -euo pipefail
size=${1:-1GiB}
reps=${2:-3}
cd "$(dirname "$0")/.."
tmp=$(mktemp -d /tmp/zcopy-peers.XXXXXX)
trap 'rm -rf "$tmp"; kill $(jobs -p) 2>/dev/null || true' EXIT
go build -o "$tmp/zcopy" ./cmd/zcopy
z="$tmp/zcopy"
"$z" gen "$tmp/data.bin" --size "$size" 2>/dev/null
bytes=$(stat -c %s "$tmp/data.bin")
cat "$tmp/data.bin" > /dev/null   # page cache
T=/usr/bin/time
port=19500

row() { # name wall sender_cpu receiver_cpu
	awk -v n="$1" -v w="$2" -v s="$3" -v r="$4" -v b="$bytes" \
		'BEGIN { printf "%-28s %7.3f s %6.2f GB/s  sender %6.3f s CPU  receiver %6.3f s CPU\n", n, w, b/w/1e9, s, r }'
}
cpu() { awk '{ print $2 + $3 }' "$1"; }
wall() { awk '{ print $1 }' "$1"; }

for rep in $(seq "$reps"); do
	echo "# rep $rep, $bytes bytes, $(uname -r)"
	for m in readwrite mmap sendfile splice; do
		port=$((port + 1))
		$T -f "%e %U %S" -o "$tmp/r.time" "$z" recv --raw -q --listen 127.0.0.1:$port -o /dev/null 2>/dev/null &
		sleep 0.2
		$T -f "%e %U %S" -o "$tmp/s.time" "$z" send --raw -q --method $m --to 127.0.0.1:$port "$tmp/data.bin"
		wait
		row "zcopy $m -> zcopy splice" "$(wall "$tmp/s.time")" "$(cpu "$tmp/s.time")" "$(cpu "$tmp/r.time")"
	done
	if command -v iperf3 >/dev/null; then
		port=$((port + 1))
		$T -f "%e %U %S" -o "$tmp/r.time" iperf3 -s -1 -p $port >/dev/null 2>&1 &
		sleep 0.3
		$T -f "%e %U %S" -o "$tmp/s.time" iperf3 -c 127.0.0.1 -p $port -F "$tmp/data.bin" -n "$bytes" >/dev/null
		wait
		row "iperf3 -F -> iperf3 -s" "$(wall "$tmp/s.time")" "$(cpu "$tmp/s.time")" "$(cpu "$tmp/r.time")"
	fi
	if command -v nc >/dev/null; then
		port=$((port + 1))
		$T -f "%e %U %S" -o "$tmp/r.time" sh -c "nc -l 127.0.0.1 $port > /dev/null" &
		sleep 0.2
		$T -f "%e %U %S" -o "$tmp/s.time" nc -N 127.0.0.1 $port < "$tmp/data.bin"
		wait
		row "nc -> nc" "$(wall "$tmp/s.time")" "$(cpu "$tmp/s.time")" "$(cpu "$tmp/r.time")"
	fi
done
