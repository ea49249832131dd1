#!/bin/bash
# Daemon benchmark (issue 6), one run, figures printed:
#  1. detection latency (write → "to":"tampered" event) with watch.triggers true and false,
#  2. heal time (write → the original page served again) with storage overlay and plain,
#     both on a jail of 20,000 files / 500 MB (busybox tree + gen-tree under /www/site),
#  3. the daemon's CPU (utime+stime over 60 s) and RSS (VmRSS, VmHWM) with 50 idle jails
#     checked every 5 s (network: none, each running `busybox sleep`).
#
#   bench/daemon.sh                       builds build/release (scripts/build release)
#   GOODCOP=build/bench-rel/watchdog/goodcop bench/daemon.sh
#   RUNS=5 IDLE_SECONDS=60 NFILES=20000 MB=500 bench/daemon.sh
#
# Everything lives on a tmpfs this script mounts and removes at exit (also on Ctrl-C): the
# root fs is slow for many small files. Jail addresses are 198.18.2.2 .. 198.18.4.2, and an
# `unreachable` route for 198.18.0.0/15 keeps their traffic on this machine. The machine is
# shared: the load average is printed with the figures.
set -euo pipefail
cd "$(dirname "$0")/.."
umask 022
runs=${RUNS:-5}
idle_seconds=${IDLE_SECONDS:-60}
nfiles=${NFILES:-20000}
mb=${MB:-500}
nidle=${NIDLE:-50}
# The idle jails' storage: overlay (the default a hosting box would use) or plain.
idle_storage=${IDLE_STORAGE:-overlay}
skip_big=${SKIP_BIG:-}
gen_tree=/work/shared/tools/gen-tree
for tool in curl ip openssl findmnt /bin/busybox "$gen_tree"; do
  command -v "$tool" >/dev/null || { echo "daemon.sh: '$tool' missing" >&2; exit 3; }
done
if [ -n "${GOODCOP:-}" ]; then
  gc=$(realpath "$GOODCOP")
else
  scripts/build release >/dev/null
  gc=$PWD/build/release/watchdog/goodcop
fi

work=$(mktemp -d /tmp/goodcop-bench-daemon.XXXXXX)
t=$work/t
daemon=""
route_added=""
stop_daemon() {
  [ -n "$daemon" ] || return 0
  if kill -0 "$daemon" 2>/dev/null; then
    kill -TERM "$daemon"
    for _ in $(seq 600); do kill -0 "$daemon" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$daemon" 2>/dev/null && { echo "daemon.sh: daemon ignored SIGTERM for 60 s, killing" >&2; kill -KILL "$daemon"; }
    wait "$daemon" 2>/dev/null || true
  fi
  daemon=""
}
cleanup() {
  set +e
  stop_daemon
  [ -n "$route_added" ] && ip route del unreachable 198.18.0.0/15 2>/dev/null
  # Overlays a killed daemon left behind, deepest first, then the tmpfs itself.
  if mountpoint -q "$t"; then
    findmnt -R -n -l -o TARGET "$t" | sort -r | while read -r m; do umount -l "$m"; done
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now() { date +%s.%N; }
pid_cpu() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
tck=$(getconf CLK_TCK)
# Seconds between two `date +%s.%N` values, 3 decimals.
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
minmax() { sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%s..%s", lo, hi }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
# An event's "time" (2026-11-29T22:50:01.123Z) as epoch seconds with milliseconds.
event_epoch() {
  local ts
  ts=$(sed -nE 's/.*"time":"([^"]+)Z".*/\1/p' <<<"$1")
  date -u -d "${ts/T/ } UTC" +%s.%N
}
load() { uptime | sed -E 's/.*load average: //'; }

mkdir -p "$t"
mount -t tmpfs -o mode=0755,size=4g goodcop-bench-daemon "$t"
mkdir -m 0700 "$t"/{golden,evidence,jails,d1,d2}
mkdir -m 0755 "$t"/{p1,p2}
if ! ip route show type unreachable | grep -q '^unreachable 198.18.0.0/15'; then
  ip route add unreachable 198.18.0.0/15
  route_added=1
fi
openssl genpkey -algorithm ed25519 -out "$t/sign.pem" 2>/dev/null
echo "goodcop:  $gc"
echo "load at start: $(load)"

# Jails that reached "running" once (a check longer than the interval keeps a jail in
# "checking" most of the time, so the status table is not asked for all of them at once).
started() { grep -F '"to":"running"' "$1/events.log" 2>/dev/null | sed -E 's/.*"jail":"([^"]+)".*/\1/' | sort -u | wc -l; }
start_daemon() {  # DIR POLICIES NJAILS
  local d=$1
  "$gc" daemon --policies "$2" --state "$d/state" --socket "$d/control.sock" \
    --events "$d/events.log" 2>"$d/daemon.err" &
  daemon=$!
  local s
  s=$(now)
  for _ in $(seq 6000); do
    kill -0 "$daemon" 2>/dev/null || { echo "daemon.sh: the daemon exited:" >&2; cat "$d/daemon.err" >&2; exit 3; }
    [ "$(started "$d")" -ge "$3" ] && break
    sleep 0.1
  done
  [ "$(started "$d")" -ge "$3" ] ||
    { echo "daemon.sh: not all $3 jails running after 600 s" >&2; "$gc" status --socket "$d/control.sock" >&2; tail -20 "$d/daemon.err" >&2; exit 3; }
  start_s=$(secs "$s" "$(now)")
}
if [ -z "$skip_big" ]; then
# ---- the big jail: busybox + NFILES files / MB MiB under /www/site ------------------------
echo "== building the $nfiles-file / $mb MB jail tree and sealing it"
demo/make-jail-tree "$t/src-big" big >/dev/null
original=$(cat "$t/src-big/www/index.html")
s=$(now)
"$gen_tree" "$t/src-big/www/site" "$nfiles" "$mb" bench-daemon >/dev/null
chown -R 0:0 "$t/src-big"
gen_s=$(secs "$s" "$(now)")
files=$(find "$t/src-big" | wc -l)
size=$(du -sm "$t/src-big" | cut -f1)
s=$(now)
"$gc" seal "$t/src-big" --golden "$t/golden/big" >/dev/null
seal_s=$(secs "$s" "$(now)")
echo "   tree: $files paths, $size MB (gen-tree ${gen_s} s); seal ${seal_s} s"

# name  storage  triggers  address
big_jails=("bd-ovt overlay true 198.18.2.2" "bd-ovn overlay false 198.18.3.2" "bd-pl plain true 198.18.4.2")
for j in "${big_jails[@]}"; do
  read -r name storage triggers ip <<<"$j"
  mkdir -m 0700 "$t/evidence/$name"
  cat >"$t/p1/$name.yaml" <<EOF
name: $name
path: $t/jails/$name
network: veth
ip4: [$ip]
exec:
  start: [/bin/busybox, httpd, -f, -p, "80", -h, /www]
golden: $t/golden/big
storage: $storage
keep: [/var/uploads]
watch:
  interval: 5s
  triggers: $triggers
on_tamper: heal
evidence:
  dir: $t/evidence/$name
  sign_key: $t/sign.pem
EOF
  chmod 0600 "$t/p1/$name.yaml"
done

page() { curl -s --max-time 0.5 "http://$1/" 2>/dev/null || true; }
jail_running() { "$gc" status --socket "$t/d1/control.sock" 2>/dev/null | grep -E "^ *$1 " | grep -qE ' (running|checking) '; }

echo "== daemon 1: the three big jails (overlay+triggers, overlay no triggers, plain+triggers)"
mkdir -m 0700 "$t/d1/state"
start_daemon "$t/d1" "$t/p1" 3
echo "   all running ${start_s} s after start"
"$gc" status --socket "$t/d1/control.sock" | sed 's/^/   /'

# One run: deface /www/index.html, then follow the event log for this jail's "tampered"
# event (its own millisecond timestamp is the detection time) while curl waits for the
# original page. Prints "DETECT HEAL" (seconds since the write).
one_run() {  # NAME IP RUN
  local name=$1 ip=$2 i=$3 ev=$t/d1/events.log
  for _ in $(seq 600); do
    jail_running "$name" && [ "$(page "$ip")" = "$original" ] && break
    sleep 0.1
  done
  [ "$(page "$ip")" = "$original" ] || { echo "daemon.sh: $name does not serve its page" >&2; exit 3; }
  sleep 1  # let the check that follows a (re)start pass
  local n0 t0 tline="" th="" deadline
  n0=$(wc -l <"$ev")
  t0=$(now)
  echo "<h1>defaced $i</h1>" >"$t/jails/$name/www/index.html"
  deadline=$((SECONDS + 60))
  while [ $SECONDS -lt $deadline ]; do
    if [ -z "$tline" ]; then
      tline=$(tail -n +"$((n0 + 1))" "$ev" | grep -F "\"jail\":\"$name\"" | grep -F '"to":"tampered"' | head -1 || true)
    fi
    if [ -z "$th" ] && [ "$(page "$ip")" = "$original" ]; then th=$(now); fi
    [ -n "$tline" ] && [ -n "$th" ] && break
    sleep 0.02
  done
  [ -n "$tline" ] && [ -n "$th" ] || { echo "daemon.sh: $name run $i: no detection/heal within 60 s" >&2; tail -5 "$ev" >&2; exit 3; }
  echo "$(secs "$t0" "$(event_epoch "$tline")") $(secs "$t0" "$th")"
}

declare -A det heal
for j in "${big_jails[@]}"; do
  read -r name _ _ ip <<<"$j"
  det[$name]="" heal[$name]=""
  for i in $(seq "$runs"); do
    read -r d h < <(one_run "$name" "$ip" "$i")
    printf '   %-7s run %d: detected %6.3f s, page healed %6.3f s after the write\n' "$name" "$i" "$d" "$h"
    det[$name]+="$d"$'\n' heal[$name]+="$h"$'\n'
  done
done
load1=$(load)
evidence_n=$(grep -c '"evidence":"/' "$t/d1/events.log" || true)

# The same daemon idle with the three big jails, checked every 5 s: the cost of a check
# of a 20k-file tree (overlay checks walk the upper only, plain walks the whole tree).
sleep 3
c0=$(pid_cpu "$daemon") w0=$(now)
sleep 30
c1=$(pid_cpu "$daemon") w1=$(now)
big_cpu=$(awk -v c="$((c1 - c0))" -v k="$tck" 'BEGIN { printf "%.2f", c / k }')
big_wall=$(secs "$w0" "$w1")
big_rss=$(awk '/^VmRSS/ { print $2 }' "/proc/$daemon/status")
big_hwm=$(awk '/^VmHWM/ { print $2 }' "/proc/$daemon/status")
load2=$(load)
stop_daemon

fi
# ---- 50 idle jails -----------------------------------------------------------------------
echo "== daemon 2: $nidle idle jails (network none, busybox sleep, interval 5 s)"
demo/make-jail-tree "$t/src-small" small >/dev/null
"$gc" seal "$t/src-small" --golden "$t/golden/small" >/dev/null
for i in $(seq -w 1 "$nidle"); do
  name=bd-i$i
  mkdir -m 0700 "$t/evidence/$name"
  cat >"$t/p2/$name.yaml" <<EOF
name: $name
path: $t/jails/$name
network: none
exec:
  start: [/bin/busybox, sleep, "1000000"]
golden: $t/golden/small
storage: $idle_storage
watch:
  interval: 5s
on_tamper: heal
evidence:
  dir: $t/evidence/$name
EOF
  chmod 0600 "$t/p2/$name.yaml"
done
mkdir -m 0700 "$t/d2/state"
start_daemon "$t/d2" "$t/p2" "$nidle"
idle_start_s=$start_s
echo "   all $nidle running ${idle_start_s} s after start; measuring ${idle_seconds} s idle"
sleep 5
c0=$(pid_cpu "$daemon") w0=$(now)
sleep "$idle_seconds"
c1=$(pid_cpu "$daemon") w1=$(now)
idle_cpu=$(awk -v c="$((c1 - c0))" -v k="$tck" 'BEGIN { printf "%.2f", c / k }')
idle_wall=$(secs "$w0" "$w1")
idle_rss=$(awk '/^VmRSS/ { print $2 }' "/proc/$daemon/status")
idle_hwm=$(awk '/^VmHWM/ { print $2 }' "/proc/$daemon/status")
idle_threads=$(awk '/^Threads/ { print $2 }' "/proc/$daemon/status")
idle_fds=$(find "/proc/$daemon/fd" -mindepth 1 | wc -l)
still=$("$gc" status --socket "$t/d2/control.sock" | grep -c ' running ' || true)
idle_events=$(grep -c '"to":"tampered"' "$t/d2/events.log" || true)
load3=$(load)
stop_daemon

# ---- figures -----------------------------------------------------------------------------
if [ -z "$skip_big" ]; then
md() { printf '%s' "${det[$1]}" | median; }
mh() { printf '%s' "${heal[$1]}" | median; }
rd() { printf '%s' "${det[$1]}" | minmax; }
rh() { printf '%s' "${heal[$1]}" | minmax; }
d_ovt=$(md bd-ovt) d_ovn=$(md bd-ovn) d_pl=$(md bd-pl)
h_ovt=$(mh bd-ovt) h_ovn=$(mh bd-ovn) h_pl=$(mh bd-pl)
cat <<EOF

goodcop daemon bench: jail of $files paths / $size MB, $runs runs each, medians (min..max), seconds
  machine: $(nproc) cores, shared and loaded; load average at start $(load | cut -d, -f1-3)

  detection latency (write → "tampered" event), interval 5 s
    overlay, watch.triggers true    $d_ovt   ($(rd bd-ovt))
    overlay, watch.triggers false   $d_ovn   ($(rd bd-ovn))
    plain,   watch.triggers true    $d_pl   ($(rd bd-pl))
    ratio triggers false / true (overlay)   $(ratio "$d_ovn" "$d_ovt")x
  heal time (write → original page served again), triggers true
    overlay                         $h_ovt   ($(rh bd-ovt))
    plain                           $h_pl   ($(rh bd-pl))
    ratio plain / overlay                   $(ratio "$h_pl" "$h_ovt")x
    (overlay, triggers false        $h_ovn   ($(rh bd-ovn)))
    heal after detection (heal - detect medians): overlay $(awk -v a="$h_ovt" -v b="$d_ovt" 'BEGIN{printf "%.3f", a-b}'), plain $(awk -v a="$h_pl" -v b="$d_pl" 'BEGIN{printf "%.3f", a-b}')
  load average after these runs: $load1; evidence bundles written: $evidence_n

  daemon with the 3 big jails idle (interval 5 s): CPU ${big_cpu} s in ${big_wall} s wall ($(awk -v c="$big_cpu" -v w="$big_wall" 'BEGIN{printf "%.1f", 100*c/w}')% of a core), VmRSS $((big_rss / 1024)) MB, VmHWM $((big_hwm / 1024)) MB
    load: $load2
EOF
fi
cat <<EOF

  daemon with $nidle idle jails (storage $idle_storage, network none, interval 5 s; all running ${idle_start_s} s after start)
    CPU (utime+stime)   ${idle_cpu} s in ${idle_wall} s wall = $(awk -v c="$idle_cpu" -v w="$idle_wall" 'BEGIN{printf "%.2f", 100*c/w}')% of a core
    per jail check      $(awk -v c="$idle_cpu" -v w="$idle_wall" -v n="$nidle" 'BEGIN{printf "%.2f", 1000*c/(n*w/5)}') ms CPU (≈ $(awk -v w="$idle_wall" -v n="$nidle" 'BEGIN{printf "%d", n*w/5}') checks)
    VmRSS               $((idle_rss / 1024)) MB ($(awk -v r="$idle_rss" -v n="$nidle" 'BEGIN{printf "%.0f", r/n}') KB per jail)
    VmHWM               $((idle_hwm / 1024)) MB
    threads $idle_threads, fds $idle_fds; jails still running $still/$nidle; tampered events $idle_events
    load: $load3
EOF
