#!/usr/bin/env bash
# http-compare.sh: zcopy http (and its --lease variant) against Go's
# http.FileServer (scripts/gofileserver.go) and the Debian packages nginx,
# h2o, lighttpd and caddy, on loopback, in one run. Each peer gets its own
# config in a temp dir, as an operator would set it up for static files,
# with one worker or thread and access logs off:
#   - nginx: worker_processes 1; sendfile on; tcp_nopush on;
#     open_file_cache max=1000 inactive=20s;
#   - h2o: num-threads 1; file.send-compressed OFF; file.dir;
#   - lighttpd: its defaults plus server.network-backend = "sendfile";
#   - caddy: a Caddyfile with root and file_server (admin and auto-HTTPS off).
# The Go servers (zcopy, the FileServer, caddy) get one P: with PIN (the
# default) every server runs on CPU 0 and every client on CPU 1 (taskset),
# and Go sizes GOMAXPROCS from that affinity.
#
# What it measures, servers taken in turn within each repetition so that
# background load hits them alike; the summary gives medians:
#   - a 1 GiB download with curl to /dev/null: throughput, and the server's
#     CPU seconds (user+sys, all its processes) per GiB;
#   - wrk -t1 -cCONNS -dDURATION on a 4 KiB and a 1 MiB file: requests per
#     second, and the server's CPU microseconds per request (which depends
#     less on what else the machine runs than requests per second do);
#   - peak RSS: VmHWM summed over the server's processes after all that;
#   - an RSS check on fresh servers: peak RSS after wrk over 256 keep-alive
#     connections (4 KiB file), and, on another fresh server, after requests
#     for 10,000 distinct 4 KiB files (curl, 64 transfers in parallel).
# Server CPU is read from /proc/PID/task/*/schedstat (every thread, nginx's
# workers included). Single 1 GiB downloads spread widely here, so the
# summary also gives each server's difference from nginx within a
# repetition, with a 95% interval: use GIB_REPS of 100 or more to tell a
# few percent apart. On loopback the kernel runs much of the receiver's TCP
# work in the sender's context, more so the faster the transfer, so for the
# 1 GiB download the server's and curl's CPU are also given summed (curl's
# from GNU time). It closes with a Markdown table of the medians.
#
# Usage: scripts/http-compare.sh [REPS] [WRK_DURATION] [WRK_CONNS]
#   (defaults 3, 4s, 64: wrk -t1 -c64 -d4s, medians of 3; about 5 minutes)
# Environment:
#   GIB_REPS     1 GiB downloads per server (default 3)
#   WRK_THREADS  wrk threads (default 1)
#   PIN=0        do not pin servers to CPU 0 and clients to CPU 1
#   SERVERS      which servers, in order (default: nginx zcopy zcopy-lease
#                gofs h2o lighttpd caddy); ratios need nginx among them.
#                Also: floor-memory, floor-stat and floor-pread, fasthttp
#                alone in scripts/floorserver.go's three modes (what a Go
#                server costs before zcopy's own work, with 0, 1 and 2 file
#                system calls a request); they serve top-level files only,
#                so they take part in the wrk runs, not in the 1 GiB
#                downloads or the RSS check:
#                  SERVERS="nginx zcopy floor-memory floor-stat floor-pread" \
#                  GIB_REPS=0 NO_RSS=1 scripts/http-compare.sh
#   CURL_OPTS    more curl options for the 1 GiB downloads (e.g.
#                "--limit-rate 800M" to compare CPU at one throughput)
#   NO_WRK=1     skips the wrk runs; NO_RSS=1 skips the RSS check
#   WRK_FILES    which files the wrk runs ask for (default "4k 1m"): with
#                "1m" alone, 40 or more paired repetitions of nginx and
#                zcopy take a few minutes
#   RSS_CONNS    connections for the RSS check (default 256)
#   RSS_DURATION its wrk duration (default 2s)
#   RSS_FILES    distinct files for the RSS check (default 10000)
#   ZCOPY        a zcopy binary to measure instead of building ./cmd/zcopy
# Needs: go, curl, wrk, nginx, h2o, lighttpd, caddy, GNU time, python3,
# taskset (apt-get install -y curl wrk nginx-light h2o lighttpd caddy time
# python3 util-linux; `make deps` installs them).
set -euo pipefail
reps=${1:-3}
dur=${2:-4s}
conns=${3:-64}
threads=${WRK_THREADS:-1}
gib_reps=${GIB_REPS:-3}
wrk_files=${WRK_FILES:-4k 1m}
rss_conns=${RSS_CONNS:-256}
rss_dur=${RSS_DURATION:-2s}
rss_files=${RSS_FILES:-10000}
read -r -a servers <<<"${SERVERS:-nginx zcopy zcopy-lease gofs h2o lighttpd caddy}"
cd "$(dirname "$0")/.."
pin_server=() pin_client=()
if [ "${PIN:-1}" != 0 ]; then
	pin_server=(taskset -c 0) pin_client=(taskset -c 1)
fi

# Every tool first, so that a missing one fails the run before it starts.
missing=()
need() { # command package
	command -v "$1" >/dev/null || missing+=("$1 (Debian package $2)")
}
need go "golang, or Go from go.dev"
need curl curl
need wrk wrk
need python3 python3
need taskset util-linux
need split coreutils
[ -x /usr/bin/time ] || missing+=("/usr/bin/time (Debian package time)")
for s in "${servers[@]}"; do
	case $s in
	nginx) need nginx nginx-light ;;
	h2o) need h2o h2o ;;
	lighttpd) need lighttpd lighttpd ;;
	caddy) need caddy caddy ;;
	zcopy | zcopy-lease | gofs | floor-memory | floor-stat | floor-pread) ;;
	*) echo "http-compare: unknown server $s (SERVERS)" >&2; exit 2 ;;
	esac
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "http-compare: missing tools (apt-get install them, or run make deps):" >&2
	printf '  %s\n' "${missing[@]}" >&2
	exit 1
fi
[ $((rss_files)) -ge 1 ] && [ $((rss_files)) -le 100000 ] || { echo "http-compare: RSS_FILES must be 1..100000" >&2; exit 2; }

tmp=$(mktemp -d /tmp/zcopy-httpcmp.XXXXXX)
chmod 755 "$tmp" # nginx's workers and h2o run as nobody
declare -A port pid
stop() { # name
	local p=${pid[$1]:-}
	[ -n "$p" ] || return 0
	kill "$p" 2>/dev/null || true
	wait "$p" 2>/dev/null || true
	unset "pid[$1]"
}
cleanup() {
	local s
	for s in "${!pid[@]}"; do stop "$s"; done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM # the servers ignore ^C: cleanup stops them

echo "# building zcopy and the FileServer; making the files" >&2
mkdir -p "$tmp/www/many" "$tmp/bin"
if [ -n "${ZCOPY:-}" ]; then
	cp "$ZCOPY" "$tmp/bin/zcopy"
else
	go build -o "$tmp/bin/zcopy" ./cmd/zcopy
fi
go build -o "$tmp/bin/gofs" scripts/gofileserver.go
go build -o "$tmp/bin/floor" scripts/floorserver.go
"$tmp/bin/zcopy" gen "$tmp/www/1g.bin" --size 1GiB 2>/dev/null
"$tmp/bin/zcopy" gen "$tmp/www/1m.bin" --size 1MiB 2>/dev/null
"$tmp/bin/zcopy" gen "$tmp/www/4k.bin" --size 4KiB 2>/dev/null
# RSS_FILES distinct 4 KiB files: many/00000, many/00001, ...
head -c $((rss_files * 4096)) /dev/urandom | split -b 4096 -d -a 5 - "$tmp/www/many/"
chmod -R a+rX "$tmp/www"
cat "$tmp/www/"*.bin "$tmp/www/many/"* >/dev/null # page cache

# A free port per server (ask the kernel, release, reuse).
freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

run() { # name command...: start it in the background, wait until it serves
	local name=$1; shift
	"${pin_server[@]}" "$@" >"$tmp/$name.log" 2>&1 &
	pid[$name]=$!
	for _ in $(seq 200); do
		curl -s -o /dev/null "http://127.0.0.1:${port[$name]}/4k.bin" && return
		kill -0 "${pid[$name]}" 2>/dev/null || break
		sleep 0.05
	done
	echo "http-compare: $name did not start; its output:" >&2
	cat "$tmp/$name.log" >&2
	exit 1
}

launch() { # name: write its config in $tmp/NAME and start it on a new port
	local s=$1 p d=$tmp/srv/$1
	p=$(freeport)
	port[$s]=$p
	mkdir -p "$d"
	case $s in
	nginx)
		cat >"$d/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $d/nginx.pid;
error_log $d/error.log warn;
events { worker_connections 4096; }
http {
	include /etc/nginx/mime.types;
	default_type application/octet-stream;
	access_log off;
	sendfile on;
	tcp_nopush on;
	tcp_nodelay on;
	open_file_cache max=1000 inactive=20s;
	open_file_cache_valid 30s;
	keepalive_requests 1000000;
	keepalive_timeout 120s;
	client_body_temp_path $d/client;
	proxy_temp_path $d/proxy;
	fastcgi_temp_path $d/fastcgi;
	uwsgi_temp_path $d/uwsgi;
	scgi_temp_path $d/scgi;
	server {
		listen 127.0.0.1:$p;
		root $tmp/www;
	}
}
CONF
		run nginx nginx -p "$d" -c "$d/nginx.conf"
		;;
	zcopy) run zcopy "$tmp/bin/zcopy" http "$tmp/www" --listen "127.0.0.1:$p" --access-log=false ;;
	zcopy-lease) run zcopy-lease "$tmp/bin/zcopy" http "$tmp/www" --listen "127.0.0.1:$p" --access-log=false --lease ;;
	gofs) run gofs "$tmp/bin/gofs" "127.0.0.1:$p" "$tmp/www" ;;
	floor-memory | floor-stat) run "$s" "$tmp/bin/floor" "${s#floor-}" "127.0.0.1:$p" "$tmp/www" ;;
	floor-pread) run "$s" "$tmp/bin/floor" stat-pread "127.0.0.1:$p" "$tmp/www" ;;
	h2o)
		# No access-log directive: none is written. Started as root it
		# serves as nobody; no pid-file, which nobody could not write here.
		cat >"$d/h2o.conf" <<CONF
num-threads: 1
listen:
  host: 127.0.0.1
  port: $p
file.send-compressed: OFF
hosts:
  default:
    paths:
      "/":
        file.dir: $tmp/www
CONF
		run h2o h2o -m worker -c "$d/h2o.conf"
		;;
	lighttpd)
		# Its defaults (one process, no mod_accesslog), plus sendfile.
		cat >"$d/lighttpd.conf" <<CONF
server.document-root = "$tmp/www"
server.bind = "127.0.0.1"
server.port = $p
server.network-backend = "sendfile"
CONF
		run lighttpd lighttpd -D -f "$d/lighttpd.conf"
		;;
	caddy)
		# No log directive: no access log. Its state (autosave, certificates
		# it will not need) goes under the temp dir, not root's home.
		cat >"$d/Caddyfile" <<CONF
{
	admin off
	auto_https off
}
http://127.0.0.1:$p {
	root * $tmp/www
	file_server
}
CONF
		run caddy env HOME="$d" XDG_CONFIG_HOME="$d/config" XDG_DATA_HOME="$d/data" caddy run --config "$d/Caddyfile" --adapter caddyfile
		;;
	esac
}

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

# mem NAME FIELD: FIELD (VmHWM, VmRSS) summed over the server's processes, KiB.
mem() {
	local p
	for p in $(procs "$1"); do cat /proc/"$p"/status; done |
		awk -v f="$2:" '$1 == f { t += $2 } END { printf "%.0f\n", t }'
}
mib() { awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }'; }

ver() { # name: what the table calls it
	case $1 in
	nginx) echo "nginx $(nginx -v 2>&1 | sed 's|.*/||') (1 worker, open_file_cache)" ;;
	h2o) echo "h2o $(h2o --version | awk 'NR == 1 { print $3 }') (1 thread)" ;;
	lighttpd) echo "lighttpd $(lighttpd -v | sed 's|^lighttpd/\([^ ]*\).*|\1|') (sendfile)" ;;
	caddy) echo "caddy $(caddy version | awk '{ print $1 }') (Go net/http)" ;;
	gofs) echo "Go http.FileServer ($(go version | cut -d' ' -f3))" ;;
	zcopy) echo "zcopy http" ;;
	zcopy-lease) echo "zcopy http --lease" ;;
	floor-memory) echo "floor: fasthttp, body from memory" ;;
	floor-stat) echo "floor: fasthttp + fstatat, body from memory" ;;
	floor-pread) echo "floor: fasthttp + fstatat + pread" ;;
	esac
}

for s in "${servers[@]}"; do launch "$s"; done

echo "# $(date -u +%FT%TZ) $(uname -r), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
for s in "${servers[@]}"; do echo "#   $(ver "$s")"; done
echo "# 1 GiB: curl -s ${CURL_OPTS:-}-o /dev/null URL x $gib_reps; wrk -t$threads -c$conns -d$dur URL x $reps${pin_server:+; servers pinned to CPU 0, clients to CPU 1}"
res="$tmp/results"
: >"$res"
t0=$SECONDS
# 1 GiB downloads are short: interleaved.
for rep in $(seq "$gib_reps"); do
	for s in "${servers[@]}"; do
		case $s in floor-*) continue ;; esac # top-level files of 64 MiB at most
		url="http://127.0.0.1:${port[$s]}"
		c0=$(cpu "$s") w0=$(switches "$s")
		speed=$(/usr/bin/time -f '%U %S' -o "$tmp/curl.time" "${pin_client[@]}" curl -sS ${CURL_OPTS:-} -o /dev/null -w '%{speed_download}' "$url/1g.bin")
		c1=$(cpu "$s") w1=$(switches "$s")
		awk -v s="$s" -v sp="$speed" -v c0="$c0" -v c1="$c1" -v w="$((w1 - w0))" -v cl="$(cat "$tmp/curl.time")" \
			'BEGIN { split(cl, t, " "); sv = (c1-c0)/1e9; printf "1g %s %.3f %.4f %.3f %d\n", s, sp/1e9, sv, sv + t[1] + t[2], w }' >>"$res"
	done
done
echo "# 1 GiB downloads done ($((SECONDS - t0)) s)" >&2
[ -n "${NO_WRK:-}" ] && reps=0
for rep in $(seq "$reps"); do
	for f in $wrk_files; do
		for s in "${servers[@]}"; do
			url="http://127.0.0.1:${port[$s]}"
			c0=$(cpu "$s")
			"${pin_client[@]}" wrk -t"$threads" -c"$conns" -d"$dur" "$url/$f.bin" >"$tmp/wrk.out"
			c1=$(cpu "$s")
			rps=$(awk '/Requests\/sec/ { print $2 }' "$tmp/wrk.out")
			n=$(awk '/requests in/ { print $1 }' "$tmp/wrk.out")
			errs=$(grep -E 'Socket errors|Non-2xx' "$tmp/wrk.out" | tr -s ' \n' ' ' || true)
			us=$(awk -v n="$n" -v c0="$c0" -v c1="$c1" 'BEGIN { printf "%.2f", n ? (c1-c0)/1e3/n : 0 }')
			echo "$f $s $rps $us ${errs:-ok}" >>"$res"
		done
	done
	echo "# wrk rep $rep done ($((SECONDS - t0)) s)" >&2
done
declare -A hwm
for s in "${servers[@]}"; do hwm[$s]=$(mem "$s" VmHWM); done

# The RSS check, on fresh servers: one for RSS_CONNS keep-alive connections,
# another for RSS_FILES distinct files.
declare -A idle peakc peakf filesok
if [ -z "${NO_RSS:-}" ]; then
	for s in "${servers[@]}"; do
		case $s in floor-*) continue ;; esac # they do not serve many/
		stop "$s"
		launch "$s"
		idle[$s]=$(mem "$s" VmRSS)
		"${pin_client[@]}" wrk -t1 -c"$rss_conns" -d"$rss_dur" "http://127.0.0.1:${port[$s]}/4k.bin" >"$tmp/wrk.out"
		peakc[$s]=$(mem "$s" VmHWM)
		if grep -qE 'Socket errors|Non-2xx' "$tmp/wrk.out"; then
			echo "rss $s $rss_conns connections: $(grep -E 'Socket errors|Non-2xx' "$tmp/wrk.out" | tr -s ' \n' ' ')" >>"$res"
		fi
		stop "$s"
		launch "$s"
		# Every file once, over up to CONNS keep-alive connections: the
		# number of 200s and of body bytes tells that each was served.
		last=$(printf %05d $((rss_files - 1)))
		bytes=$({ "${pin_client[@]}" curl -sS --no-progress-meter -Z --parallel-max "$conns" -w '%{stderr}%{http_code}\n' \
			"http://127.0.0.1:${port[$s]}/many/[00000-$last]" 2>"$tmp/codes" || true; } | wc -c)
		peakf[$s]=$(mem "$s" VmHWM)
		filesok[$s]=$(grep -c '^200$' "$tmp/codes" || true)
		[ "$bytes" -eq $((rss_files * 4096)) ] || filesok[$s]="${filesok[$s]}, $bytes body bytes of $((rss_files * 4096))"
		stop "$s"
	done
	echo "# RSS check done ($((SECONDS - t0)) s)" >&2
fi
for s in "${servers[@]}"; do stop "$s"; done

echo
echo "## every run (1g: GB/s, server CPU s, server+curl CPU s, server context switches; 4k/1m: req/s, server CPU us per request, wrk errors)"
sort -k1,1 -k2,2 -s "$res"
echo
echo "## medians"
med() { sort -g | awk '{ a[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print a[(NR+1)/2]; else print (a[NR/2] + a[NR/2+1]) / 2 }'; }
col() { awk -v f="$1" -v s="$2" -v c="$3" '$1 == f && $2 == s { print $c }' "$res" | med; }
printf "%-12s %10s %10s %12s %10s %11s %16s %11s %16s\n" server "1GiB GB/s" "CPU s/GiB" "+curl s/GiB" "ctxsw/GiB" "4KiB req/s" "4KiB CPU us/req" "1MiB req/s" "1MiB CPU us/req"
declare -A gbs cpus r4 u4 r1
for s in "${servers[@]}"; do
	gbs[$s]=$(col 1g "$s" 3) cpus[$s]=$(col 1g "$s" 4)
	r4[$s]=$(col 4k "$s" 3) u4[$s]=$(col 4k "$s" 4) r1[$s]=$(col 1m "$s" 3)
	printf "%-12s %10s %10s %12s %10s %11s %16s %11s %16s\n" "$s" "${gbs[$s]}" "${cpus[$s]}" "$(col 1g "$s" 5)" "$(col 1g "$s" 6)" \
		"${r4[$s]}" "${u4[$s]}" "${r1[$s]}" "$(col 1m "$s" 4)"
done
# Paired differences: within a repetition the servers ran one after the
# other, so background load and the loopback's mood hit a pair alike; the
# spread of single downloads (often +-20%) mostly cancels in the difference.
# Interval: mean +- t * sd / sqrt(n), Student's t at 97.5% (approximated
# past 4 degrees of freedom).
if [ -n "${gbs[nginx]:-}" ]; then
	echo
	echo "## paired against nginx, 1 GiB downloads (difference per repetition: mean and 95% interval)"
	printf "%-12s %5s %32s %32s\n" server n "CPU ms/GiB (server - nginx)" "GB/s (server - nginx)"
	for s in "${servers[@]}"; do
		[ "$s" = nginx ] && continue
		awk -v s="$s" '
			function t975(df) { if (df < 1) return 0; if (df <= 4) return substr("12.706 4.303 3.182 2.776", (df-1)*6+1, 5) + 0; return 1.96 + 2.5 / df }
			function ci(sum, sq, n,   m, sd) { m = sum / n; sd = n > 1 ? sqrt((sq - n*m*m) / (n-1)) : 0; return sprintf("%+8.1f (%+.1f..%+.1f)", m, m - t975(n-1)*sd/sqrt(n), m + t975(n-1)*sd/sqrt(n)) }
			function ci3(sum, sq, n,   m, sd) { m = sum / n; sd = n > 1 ? sqrt((sq - n*m*m) / (n-1)) : 0; return sprintf("%+8.3f (%+.3f..%+.3f)", m, m - t975(n-1)*sd/sqrt(n), m + t975(n-1)*sd/sqrt(n)) }
			$1 == "1g" && $2 == "nginx" { ng++; ncpu[ng] = $4; ngbs[ng] = $3 }
			$1 == "1g" && $2 == s { k++; dc = ($4 - ncpu[k]) * 1000; dg = $3 - ngbs[k]; c += dc; cq += dc*dc; g += dg; gq += dg*dg }
			END { if (k) printf "%-12s %5d %32s %32s\n", s, k, ci(c, cq, k), ci3(g, gq, k) }' "$res"
	done
fi
if [[ " ${servers[*]} " == *" nginx "* ]] && [ "$reps" -gt 1 ]; then
	echo
	echo "## paired against nginx, wrk runs (ratio to nginx within each repetition: median, range, repetitions at 1.0x or more)"
	printf "%-12s %4s %5s %36s %36s\n" server file n "req/s (server / nginx)" "CPU us/req (server / nginx)"
	for s in "${servers[@]}"; do
		[ "$s" = nginx ] && continue
		for f in $wrk_files; do
			awk -v s="$s" -v f="$f" '
				function med(a, n,   i, j, t) { for (i = 2; i <= n; i++) { t = a[i]; for (j = i-1; j >= 1 && a[j] > t; j--) a[j+1] = a[j]; a[j+1] = t } return n % 2 ? a[(n+1)/2] : (a[n/2] + a[n/2+1]) / 2 }
				function show(a, n,   i, lo, hi, up) { lo = hi = a[1]; for (i = 1; i <= n; i++) { if (a[i] < lo) lo = a[i]; if (a[i] > hi) hi = a[i]; if (a[i] >= 1) up++ } return sprintf("%.3fx (%.2f..%.2f, %d of %d)", med(a, n), lo, hi, up, n) }
				$1 == f && $2 == "nginx" { ng++; nr[ng] = $3; nc[ng] = $4 }
				$1 == f && $2 == s { k++; if (nr[k] > 0 && nc[k] > 0) { m++; r[m] = $3 / nr[k]; c[m] = $4 / nc[k] } }
				END { if (m) printf "%-12s %4s %5d %36s %36s\n", s, f, m, show(r, m), show(c, m) }' "$res"
		done
	done
fi
if grep -E '^(4k|1m)' "$res" | grep -v ' ok$' >/dev/null; then
	echo
	echo "## wrk errors"
	grep -E '^(4k|1m)' "$res" | grep -v ' ok$'
fi

ratio() { # value nginx's-value
	awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "" || b == "-" || b == 0) print "-"; else printf "%.2fx", a / b }'
}
num() { # value decimals: 12345.6 0 -> 12,346
	awk -v a="$1" -v d="$2" 'BEGIN {
		if (a == "-") { print "-"; exit }
		s = sprintf("%.*f", d, a); i = index(s, "."); w = i ? substr(s, 1, i-1) : s; f = i ? substr(s, i) : ""
		while (length(w) > 3) { f = "," substr(w, length(w)-2) f; w = substr(w, 1, length(w)-3) }
		print w f }'
}
echo
echo "## summary: medians; wrk -t$threads -c$conns -d$dur x $reps, 1 GiB curl x $gib_reps; peak RSS: VmHWM summed over the server's processes after the run"
echo
echo "| server | 4 KiB req/s | vs nginx | 4 KiB CPU us/req | vs nginx | 1 MiB req/s | vs nginx | 1 GiB GB/s | 1 GiB CPU s/GiB | peak RSS |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for s in "${servers[@]}"; do
	echo "| $(ver "$s") | $(num "${r4[$s]}" 0) | $(ratio "${r4[$s]}" "${r4[nginx]:-}") | $(num "${u4[$s]}" 2) | $(ratio "${u4[$s]}" "${u4[nginx]:-}") | $(num "${r1[$s]}" 0) | $(ratio "${r1[$s]}" "${r1[nginx]:-}") | $(num "${gbs[$s]}" 2) | $(num "${cpus[$s]}" 3) | $(mib "${hwm[$s]}") |"
done
if [ -z "${NO_RSS:-}" ]; then
	echo
	echo "## RSS check, fresh servers: RSS when idle; peak RSS after wrk -t1 -c$rss_conns -d$rss_dur (4 KiB, keep-alive); peak RSS after $rss_files distinct 4 KiB files (curl -Z --parallel-max $conns, each file once)"
	echo
	echo "| server | idle RSS | peak RSS, $rss_conns connections | peak RSS, $rss_files files | files served (200) |"
	echo "|---|---|---|---|---|"
	for s in "${servers[@]}"; do
		case $s in floor-*) continue ;; esac
		echo "| $(ver "$s") | $(mib "${idle[$s]}") | $(mib "${peakc[$s]}") | $(mib "${peakf[$s]}") | ${filesok[$s]} |"
	done
	if grep -q '^rss ' "$res"; then
		echo
		grep '^rss ' "$res"
	fi
fi
echo
echo "# took $((SECONDS - t0)) s after the build"
