#!/usr/bin/env bash
# raw-peers.sh: zcopy's raw sender/receiver against peers that move the same
# file over loopback in the same run: nginx (sendfile on; tcp_nopush on) to
# curl, iperf3 -F (file-reading sender) and nc. Peers that are not installed
# are left out.
# Prints, per case: wall seconds, GB/s, and sender/receiver CPU seconds
# (user+sys, from GNU time). Usage: scripts/raw-peers.sh [SIZE] [REPS]
set -euo pipefail
size=${1:-1GiB}
reps=${2:-3}
cd "$(dirname "$0")/.."
tmp=$(mktemp -d /tmp/zcopy-peers.XXXXXX)
chmod 755 "$tmp" # nginx's workers run as nobody
trap '[ -f "$tmp/nginx.pid" ] && kill "$(cat "$tmp/nginx.pid")" 2>/dev/null; rm -rf "$tmp"; kill $(jobs -p) 2>/dev/null || true' EXIT
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

if command -v nginx >/dev/null && command -v curl >/dev/null; then
	nport=19499
	chmod 644 "$tmp/data.bin"
	cat >"$tmp/nginx.conf" <<CONF
worker_processes 1;
pid $tmp/nginx.pid;
error_log $tmp/nginx-error.log warn;
events { worker_connections 64; }
http {
	access_log off;
	sendfile on;
	tcp_nopush on;
	client_body_temp_path $tmp; proxy_temp_path $tmp; fastcgi_temp_path $tmp; uwsgi_temp_path $tmp; scgi_temp_path $tmp;
	server { listen 127.0.0.1:$nport; root $tmp; }
}
CONF
	nginx -p "$tmp" -c "$tmp/nginx.conf"
	sleep 0.3
fi

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
	if [ -f "$tmp/nginx.pid" ]; then
		npid=$(cat "$tmp/nginx.pid")
		wpid=$(pgrep -P "$npid" | head -1)
		before=$(awk '{ print $14 + $15 }' /proc/$wpid/stat)
		$T -f "%e %U %S" -o "$tmp/r.time" curl -s -o /dev/null "http://127.0.0.1:$nport/data.bin"
		after=$(awk '{ print $14 + $15 }' /proc/$wpid/stat)
		row "nginx sendfile -> curl" "$(wall "$tmp/r.time")" "$(awk -v a=$after -v b=$before -v hz=$(getconf CLK_TCK) 'BEGIN { print (a-b)/hz }')" "$(cpu "$tmp/r.time")"
	fi
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
