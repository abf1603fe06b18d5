#!/usr/bin/env bash
# http-compare.sh: zcopy http against nginx (Debian package, its own config
# in a temp dir: sendfile on; tcp_nopush on; access_log off) and Go's
# http.FileServer, on loopback, in one run:
#   - a 1 GiB download with curl to /dev/null: throughput, and the server's
#     CPU seconds (user+sys, all its processes) per GiB;
#   - wrk requests per second on a 4 KiB and a 1 MiB file.
# Servers are taken in turn within each repetition, so background load hits
# them alike; the summary gives medians. Access logs are off everywhere.
# Server CPU is read from /proc/PID/task/*/schedstat (every thread, nginx's
# workers included); under wrk it is also given per request, which depends
# less on what else the machine runs than requests per second do. Single
# 1 GiB downloads spread widely here, so the summary also gives each
# server's difference from nginx within a repetition, with a 95% interval:
# use GIB_REPS of 100 or more to tell a few percent apart. On
# loopback the kernel runs much of the receiver's TCP work in the sender's
# context, more so the faster the transfer, so for the 1 GiB download the
# server's and curl's CPU are also given summed (curl's from GNU time).
#
# Usage: scripts/http-compare.sh [REPS] [WRK_DURATION] [WRK_CONNS]
# Environment: CURL_OPTS adds curl options to the 1 GiB downloads (e.g.
# "--limit-rate 800M" to compare CPU at one throughput); NO_WRK=1 skips wrk;
# PIN=1 runs every server on CPU 0 and the clients on CPU 1 (taskset), so
# that no server's figures depend on where the scheduler put it and its
# client; GIB_REPS sets how many 1 GiB downloads each server gets (default
# 3 x REPS).
# Needs: go, curl, wrk, nginx, GNU time (apt-get install -y curl wrk nginx time).
set -euo pipefail
reps=${1:-5}
dur=${2:-10s}
conns=${3:-256}
cd "$(dirname "$0")/.."
pin_server=() pin_client=()
if [ -n "${PIN:-}" ]; then
	pin_server=(taskset -c 0) pin_client=(taskset -c 1)
fi
for tool in curl wrk nginx; do
	command -v "$tool" >/dev/null || { echo "http-compare: $tool is missing" >&2; exit 1; }
done
[ -x /usr/bin/time ] || { echo "http-compare: GNU time (/usr/bin/time) is missing" >&2; exit 1; }
tmp=$(mktemp -d /tmp/zcopy-httpcmp.XXXXXX)
chmod 755 "$tmp" # nginx's workers run as nobody
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

go build -o "$tmp/zcopy" ./cmd/zcopy
go build -o "$tmp/gofs" scripts/gofileserver.go
mkdir -p "$tmp/www" "$tmp/nginx"
"$tmp/zcopy" gen "$tmp/www/1g.bin" --size 1GiB 2>/dev/null
"$tmp/zcopy" gen "$tmp/www/1m.bin" --size 1MiB 2>/dev/null
"$tmp/zcopy" gen "$tmp/www/4k.bin" --size 4KiB 2>/dev/null
cat "$tmp/www/"* >/dev/null # page cache

# A free port per server (ask the kernel, release, reuse).
freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

declare -A port pid
start() { # name command...
	local name=$1; shift
	"$@" 2>"$tmp/$name.log" &
	pid[$name]=$!
	pids+=($!)
	for _ in $(seq 100); do
		curl -s -o /dev/null "http://127.0.0.1:${port[$name]}/4k.bin" && return
		sleep 0.05
	done
	echo "http-compare: $name did not start" >&2
	cat "$tmp/$name.log" >&2
	exit 1
}

port[nginx]=$(freeport)
cat >"$tmp/nginx/nginx.conf" <<CONF
worker_processes auto;
daemon off;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log warn;
events { worker_connections 4096; }
http {
	include /etc/nginx/mime.types;
	default_type application/octet-stream;
	access_log off;
	sendfile on;
	tcp_nopush on;
	tcp_nodelay on;
	keepalive_requests 1000000;
	keepalive_timeout 120s;
	client_body_temp_path $tmp/nginx/client;
	proxy_temp_path $tmp/nginx/proxy;
	fastcgi_temp_path $tmp/nginx/fastcgi;
	uwsgi_temp_path $tmp/nginx/uwsgi;
	scgi_temp_path $tmp/nginx/scgi;
	server {
		listen 127.0.0.1:${port[nginx]};
		root $tmp/www;
	}
}
CONF
start nginx "${pin_server[@]}" nginx -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf"

port[zcopy]=$(freeport)
start zcopy "${pin_server[@]}" "$tmp/zcopy" http "$tmp/www" --listen "127.0.0.1:${port[zcopy]}" --access-log=false
port[zcopy-lease]=$(freeport)
start zcopy-lease "${pin_server[@]}" "$tmp/zcopy" http "$tmp/www" --listen "127.0.0.1:${port[zcopy-lease]}" --access-log=false --lease
port[gofs]=$(freeport)
start gofs "${pin_server[@]}" "$tmp/gofs" "127.0.0.1:${port[gofs]}" "$tmp/www"

servers=(nginx zcopy zcopy-lease gofs)

# procs NAME: the server's process and its children (nginx's workers).
procs() { echo "${pid[$1]}" $(pgrep -P "${pid[$1]}" || true); }

# cpu NAME: CPU nanoseconds used so far by the server, every thread of every
# process, from /proc/PID/task/*/schedstat.
cpu() {
	local p
	for p in $(procs "$1"); do cat /proc/"$p"/task/*/schedstat; done |
		awk '{ t += $1 } END { printf "%.0f\n", t }'
}

# switches NAME: the server's context switches so far (voluntary and not,
# every thread): how often it slept and woke.
switches() {
	local p
	for p in $(procs "$1"); do cat /proc/"$p"/task/*/status; done |
		awk '/^(nonvoluntary|voluntary)_ctxt_switches/ { t += $2 } END { printf "%.0f\n", t }'
}

echo "# $(date -u +%FT%TZ) $(uname -r), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg); $(nginx -v 2>&1); $(go version | cut -d' ' -f3)"
echo "# 1 GiB: curl -s ${CURL_OPTS:-}-o /dev/null URL; wrk -t2 -c$conns -d$dur URL${PIN:+; servers pinned to CPU 0, clients to CPU 1}"
res="$tmp/results"
: >"$res"
# 1 GiB downloads are short: more of them, interleaved.
for rep in $(seq "${GIB_REPS:-$((reps * 3))}"); do
	for s in "${servers[@]}"; do
		url="http://127.0.0.1:${port[$s]}"
		c0=$(cpu "$s") w0=$(switches "$s")
		speed=$(/usr/bin/time -f '%U %S' -o "$tmp/curl.time" "${pin_client[@]}" curl -s ${CURL_OPTS:-} -o /dev/null -w '%{speed_download}' "$url/1g.bin")
		c1=$(cpu "$s") w1=$(switches "$s")
		awk -v s="$s" -v sp="$speed" -v c0="$c0" -v c1="$c1" -v w="$((w1 - w0))" -v cl="$(cat "$tmp/curl.time")" \
			'BEGIN { split(cl, t, " "); sv = (c1-c0)/1e9; printf "1g %s %.3f %.4f %.3f %d\n", s, sp/1e9, sv, sv + t[1] + t[2], w }' >>"$res"
	done
done
echo "# 1 GiB downloads done" >&2
[ -n "${NO_WRK:-}" ] && reps=0
for rep in $(seq "$reps"); do
	for f in 4k 1m; do
		for s in "${servers[@]}"; do
			url="http://127.0.0.1:${port[$s]}"
			c0=$(cpu "$s")
			"${pin_client[@]}" wrk -t2 -c"$conns" -d"$dur" "$url/$f.bin" >"$tmp/wrk.out"
			c1=$(cpu "$s")
			rps=$(awk '/Requests\/sec/ { print $2 }' "$tmp/wrk.out")
			n=$(awk '/requests in/ { print $1 }' "$tmp/wrk.out")
			errs=$(grep -E 'Socket errors|Non-2xx' "$tmp/wrk.out" | tr '\n' ' ' || true)
			us=$(awk -v n="$n" -v c0="$c0" -v c1="$c1" 'BEGIN { printf "%.1f", (c1-c0)/1e3/n }')
			echo "$f $s $rps $us ${errs:-ok}" >>"$res"
		done
	done
	echo "# wrk rep $rep done" >&2
done

echo
echo "## every run (1g: GB/s, server CPU s, server+curl CPU s, server context switches; 4k/1m: req/s, server CPU us per request, wrk errors)"
sort -k1,1 -k2,2 -s "$res"
echo
echo "## medians"
printf "%-15s %10s %10s %12s %10s %11s %16s %11s %16s\n" server "1GiB GB/s" "CPU s/GiB" "+curl s/GiB" "ctxsw/GiB" "4KiB req/s" "4KiB CPU us/req" "1MiB req/s" "1MiB CPU us/req"
for s in "${servers[@]}"; do
	med() { sort -g | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR+1)/2]; else print (a[NR/2] + a[NR/2+1]) / 2 }'; }
	gbs=$(awk -v s="$s" '$1 == "1g" && $2 == s { print $3 }' "$res" | med)
	cpus=$(awk -v s="$s" '$1 == "1g" && $2 == s { print $4 }' "$res" | med)
	both=$(awk -v s="$s" '$1 == "1g" && $2 == s { print $5 }' "$res" | med)
	sw=$(awk -v s="$s" '$1 == "1g" && $2 == s { print $6 }' "$res" | med)
	r4=$(awk -v s="$s" '$1 == "4k" && $2 == s { print $3 }' "$res" | med)
	r1=$(awk -v s="$s" '$1 == "1m" && $2 == s { print $3 }' "$res" | med)
	u4=$(awk -v s="$s" '$1 == "4k" && $2 == s { print $4 }' "$res" | med)
	u1=$(awk -v s="$s" '$1 == "1m" && $2 == s { print $4 }' "$res" | med)
	printf "%-15s %10s %10s %12s %10s %11s %16s %11s %16s\n" "$s" "$gbs" "$cpus" "$both" "$sw" "$r4" "$u4" "$r1" "$u1"
done
# Paired differences: within a repetition the servers ran one after the
# other, so background load and the loopback's mood hit a pair alike; the
# spread of single downloads (often +-20%) mostly cancels in the difference.
# Interval: mean +- t * sd / sqrt(n), Student's t at 97.5% (approximated
# past 4 degrees of freedom).
echo
echo "## paired against nginx, 1 GiB downloads (difference per repetition: mean and 95% interval)"
printf "%-15s %5s %32s %32s\n" server n "CPU ms/GiB (server - nginx)" "GB/s (server - nginx)"
for s in "${servers[@]}"; do
	[ "$s" = nginx ] && continue
	awk -v s="$s" '
		function t975(df) { if (df < 1) return 0; if (df <= 4) return substr("12.706 4.303 3.182 2.776", (df-1)*6+1, 5) + 0; return 1.96 + 2.5 / df }
		function ci(sum, sq, n,   m, sd) { m = sum / n; sd = n > 1 ? sqrt((sq - n*m*m) / (n-1)) : 0; return sprintf("%+8.1f (%+.1f..%+.1f)", m, m - t975(n-1)*sd/sqrt(n), m + t975(n-1)*sd/sqrt(n)) }
		function ci3(sum, sq, n,   m, sd) { m = sum / n; sd = n > 1 ? sqrt((sq - n*m*m) / (n-1)) : 0; return sprintf("%+8.3f (%+.3f..%+.3f)", m, m - t975(n-1)*sd/sqrt(n), m + t975(n-1)*sd/sqrt(n)) }
		$1 == "1g" && $2 == "nginx" { ng++; ncpu[ng] = $4; ngbs[ng] = $3 }
		$1 == "1g" && $2 == s { k++; dc = ($4 - ncpu[k]) * 1000; dg = $3 - ngbs[k]; c += dc; cq += dc*dc; g += dg; gq += dg*dg }
		END { if (k) printf "%-15s %5d %32s %32s\n", s, k, ci(c, cq, k), ci3(g, gq, k) }' "$res"
done
if grep -v ' ok$' "$res" | grep -E '^(4k|1m)' >/dev/null; then
	echo
	echo "## wrk errors"
	grep -v ' ok$' "$res" | grep -E '^(4k|1m)'
fi
echo
echo "## peak RSS (VmHWM) of each server process after the run"
for s in "${servers[@]}"; do
	for p in $(procs "$s"); do
		printf "%-15s pid %-7s %s\n" "$s" "$p" "$(grep VmHWM "/proc/$p/status")"
	done
done
