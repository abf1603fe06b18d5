#!/usr/bin/env bash
# ssh-compare.sh: the one-command form, `zcopy send PATH 127.0.0.1:DIR`,
# against scp and `rsync -a` over the same ssh, in one run (issue 18,
# acceptance 3): a 1 GiB file, and a tree of 10,000 4 KiB files.
#
# It starts its own sshd on 127.0.0.1 (a free port, a host key and a client
# key made here, its config in a temp dir; as root) and runs every tool
# through the same ssh command line. Each time is wall seconds from the
# command's start to its exit, ssh's start and the far end's included, into
# a fresh destination that is removed and synced before the next run; the
# median of REPS runs, the tools taking turns within each repetition.
# zcopy is encrypted (TLS 1.3) unless the line says --plaintext.
#
# Usage: scripts/ssh-compare.sh [REPS]   (default 3)
# Environment: ZCOPY=PATH uses that zcopy instead of building one.
set -euo pipefail
reps=${1:-3}
cd "$(dirname "$0")/.."
for t in ssh scp rsync ssh-keygen /usr/sbin/sshd; do
	command -v "$t" >/dev/null || { echo "ssh-compare: $t is missing (apt-get install openssh-server openssh-client rsync)" >&2; exit 1; }
done
[ "$(id -u)" = 0 ] || { echo "ssh-compare: run as root (sshd logs in as root with a key made here)" >&2; exit 1; }
tmp=$(mktemp -d /tmp/zcopy-ssh.XXXXXX)
sshd_pid=
cleanup() {
	[ -n "$sshd_pid" ] && kill "$sshd_pid" 2>/dev/null || true
	wait 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

z=${ZCOPY:-}
if [ -z "$z" ]; then
	go build -o "$tmp/zcopy" ./cmd/zcopy
	z=$tmp/zcopy
fi
ssh-keygen -q -t ed25519 -N '' -f "$tmp/host"
ssh-keygen -q -t ed25519 -N '' -f "$tmp/client"
cp "$tmp/client.pub" "$tmp/authorized_keys"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat > "$tmp/sshd_config" <<CONF
ListenAddress 127.0.0.1
Port $port
HostKey $tmp/host
AuthorizedKeysFile $tmp/authorized_keys
StrictModes no
UsePAM no
PidFile $tmp/sshd.pid
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
Subsystem sftp /usr/lib/openssh/sftp-server
CONF
mkdir -p /run/sshd
/usr/sbin/sshd -D -f "$tmp/sshd_config" -E "$tmp/sshd.log" &
sshd_pid=$!
opts=(-i "$tmp/client" -o "UserKnownHostsFile=$tmp/known_hosts" -o StrictHostKeyChecking=accept-new -o BatchMode=yes -o LogLevel=ERROR)
ssh_cmd="ssh -p $port ${opts[*]}"
for _ in $(seq 50); do ssh -p "$port" "${opts[@]}" 127.0.0.1 true 2>/dev/null && break; sleep 0.1; done

echo "making the 1 GiB file and the tree of 10,000 x 4 KiB files..." >&2
"$z" gen "$tmp/big.bin" --size 1GiB >/dev/null
mkdir -p "$tmp/tree"
python3 - "$tmp/tree" <<'PY'
import os, sys
root = sys.argv[1]
for d in range(100):
    p = os.path.join(root, "d%03d" % d)
    os.mkdir(p)
    for f in range(100):
        with open(os.path.join(p, "f%03d" % f), "wb") as fh:
            fh.write(os.urandom(4096))
PY
sync

dest=$tmp/dest
# run NAME COMMAND...: one timed run into a fresh $dest; prints seconds.
run() {
	rm -rf "$dest"; mkdir -p "$dest"; sync
	local t0 t1
	t0=$(date +%s.%N)
	"$@" >/dev/null 2>"$tmp/err" || { echo "ssh-compare: failed: $*" >&2; cat "$tmp/err" >&2; exit 1; }
	t1=$(date +%s.%N)
	awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", b - a}' 
}
median() { sort -n | awk '{a[NR]=$1} END {printf "%.2f", (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

# The tools, each a function of the source path; $dest is fresh.
t_ssh() { ssh -p "$port" "${opts[@]}" 127.0.0.1 true; }
t_zcopy() { "$z" send -q --ssh "$ssh_cmd" --remote-zcopy "$z" "$1" "127.0.0.1:$dest"; }
t_zcopy_plain() { "$z" send -q --plaintext --ssh "$ssh_cmd" --remote-zcopy "$z" "$1" "127.0.0.1:$dest"; }
t_scp() { scp -q -r -P "$port" "${opts[@]}" "$1" "127.0.0.1:$dest/"; }
t_rsync() { rsync -a -e "$ssh_cmd" "$1" "127.0.0.1:$dest/"; }
tools=(ssh zcopy zcopy_plain scp rsync)
declare -A names=(
	[ssh]="ssh 127.0.0.1 true (connection setup alone)"
	[zcopy]="zcopy send PATH 127.0.0.1:DIR"
	[zcopy_plain]="zcopy send --plaintext PATH 127.0.0.1:DIR"
	[scp]="scp -r PATH 127.0.0.1:DIR/"
	[rsync]="rsync -a PATH 127.0.0.1:DIR/"
)
declare -A times
for i in $(seq "$reps"); do
	for what in big tree; do
		src=$tmp/big.bin; [ $what = tree ] && src=$tmp/tree
		for tool in "${tools[@]}"; do
			[ $tool = ssh ] && [ $what = tree ] && continue # once is enough
			s=$(run "t_$tool" "$src")
			times[$what/$tool]+="$s "
			echo "rep $i $what $tool: $s s" >&2
		done
	done
done

echo
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) CPUs)"
echo
echo "| what | command | seconds (median of $reps) | runs |"
echo "|---|---|---|---|"
for what in big tree; do
	for tool in "${tools[@]}"; do
		key=$what/$tool
		[ -n "${times[$key]:-}" ] || continue
		m=$(tr ' ' '\n' <<<"${times[$key]}" | grep . | median)
		label="1 GiB file"; [ $what = tree ] && label="10,000 x 4 KiB"
		echo "| $label | \`${names[$tool]}\` | $m | ${times[$key]% } |"
	done
done
echo
echo "ssh=\"$ssh_cmd\""
echo "zcopy send -q [--plaintext] --ssh \"\$ssh\" --remote-zcopy ZCOPY PATH 127.0.0.1:DIR"
echo "scp -q -r -P $port ${opts[*]} PATH 127.0.0.1:DIR/"
echo "rsync -a -e \"\$ssh\" PATH 127.0.0.1:DIR/"
