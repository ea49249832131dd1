#!/bin/sh
# Jail start benchmark: the time to run /bin/true in a jail, side by side with what users
# would otherwise pick, on the same busybox rootfs (on a tmpfs), in one run:
#   chroot                 no isolation at all (the floor)
#   unshare + chroot       mount, pid, uts, ipc, net, cgroup and user namespaces, nothing else
#   bwrap                  bubblewrap with the same namespaces, its own /proc and /dev
#   goodcop jail           the full recipe: namespaces, idmapped root, /proc masks, /dev,
#                          pivot_root, caps, no_new_privs, seccomp, init
# Prints each mean wall time (hyperfine) and CPU time (all processes of a run, from a cgroup)
# and their ratios to bwrap (the target: goodcop no slower than bubblewrap).
# Run as root, by hand (not by ctest):  bench/jail.sh [RUNS]
# GOODCOP=path/to/goodcop picks the binary (default: build/release, built when missing); its
# goodcop-jail-helper is used when it lies next to it. GOODCOP_OLD=path/to/another/goodcop
# adds that binary to the same run ("goodcop-old": before/after a change, side by side).
set -eu
cd "$(dirname "$0")/.."
runs=${1:-200}
[ "$(id -u)" = 0 ] || { echo "bench/jail.sh: run as root" >&2; exit 2; }

export DEBIAN_FRONTEND=noninteractive
command -v bwrap >/dev/null || apt-get install -y -qq bubblewrap >/dev/null
command -v hyperfine >/dev/null || apt-get install -y -qq hyperfine >/dev/null 2>&1 || true
[ -x /bin/busybox ] || apt-get install -y -qq busybox-static >/dev/null

GOODCOP=${GOODCOP:-build/release/watchdog/goodcop}
if [ ! -x "$GOODCOP" ]; then scripts/build release >/dev/null; fi
GOODCOP=$(readlink -f "$GOODCOP")

root=$(mktemp -d /tmp/goodcop-bench.XXXXXX)
cleanup() { umount "$root" 2>/dev/null || true; rmdir "$root"; }
trap cleanup EXIT INT TERM
mount -t tmpfs -o mode=0755 tmpfs "$root"
mkdir -p "$root/bin" "$root/proc" "$root/dev" "$root/tmp" "$root/sys" "$root/etc"
cp /bin/busybox "$root/bin/busybox"
for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -s busybox "$root/bin/$a"; done

helper=$(dirname "$GOODCOP")/goodcop-jail-helper
[ -x "$helper" ] && helper_note=", helper $(du -h "$helper" | cut -f1)" || helper_note=", no helper"
echo "goodcop: $GOODCOP ($(du -h "$GOODCOP" | cut -f1)$helper_note), $runs runs each, kernel $(uname -r)"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

names="chroot unshare+chroot bwrap goodcop-jail"
cmd_chroot="chroot $root /bin/true"
cmd_unshare="unshare --user --map-root-user --mount --pid --fork --uts --ipc --net --cgroup chroot $root /bin/true"
cmd_bwrap="bwrap --unshare-all --unshare-user --uid 0 --gid 0 --bind $root / --proc /proc --dev /dev --hostname h --new-session --die-with-parent /bin/true"
cmd_goodcop="$GOODCOP jail $root h - /bin/true"
cmd_old=""
if [ -n "${GOODCOP_OLD:-}" ]; then
  cmd_old="$(readlink -f "$GOODCOP_OLD") jail $root h - /bin/true"
  names="$names goodcop-old"
fi

# Sanity: every contender really runs /bin/true.
for c in "$cmd_chroot" "$cmd_unshare" "$cmd_bwrap" "$cmd_goodcop" ${cmd_old:+"$cmd_old"}; do
  sh -c "$c" || { echo "bench/jail.sh: failed: $c" >&2; exit 3; }
done

if command -v hyperfine >/dev/null; then
  json=$(mktemp /tmp/goodcop-bench.XXXXXX.json)
  hyperfine -N --warmup 10 --runs "$runs" --export-json "$json" \
    -n chroot "$cmd_chroot" -n unshare+chroot "$cmd_unshare" -n bwrap "$cmd_bwrap" \
    -n goodcop-jail "$cmd_goodcop" ${cmd_old:+-n goodcop-old "$cmd_old"} >/dev/null
  means=$(python3 -c '
import json, sys
for r in json.load(open(sys.argv[1]))["results"]:
    print(r["command"], r["mean"] * 1e3, r["stddev"] * 1e3, (r["user"] + r["system"]) * 1e3)' "$json")
  rm -f "$json"
else
  # No hyperfine: a plain loop, mean only.
  means=""
  for n in $names; do
    case $n in
      chroot) c=$cmd_chroot ;; unshare+chroot) c=$cmd_unshare ;; bwrap) c=$cmd_bwrap ;;
      goodcop-old) c=$cmd_old ;; *) c=$cmd_goodcop ;;
    esac
    start=$(date +%s%N)
    i=0
    while [ $i -lt "$runs" ]; do sh -c "$c"; i=$((i + 1)); done
    end=$(date +%s%N)
    means="$means
$n $(echo "($end - $start) / $runs / 1000000" | bc -l) 0 0"
  done
fi

# CPU time: every process of a run, counted by the kernel in a cgroup of its own (the v2
# hierarchy's cpu.stat; no controller needed). hyperfine's user+system comes from
# getrusage(RUSAGE_CHILDREN), which counts only descendants that were waited for: bwrap's
# parent exits without reaping its pid 1 (the namespace's init, killed after it), so
# everything that init and the command did was missing from bwrap's figure (3.2 ms where
# bwrap spends ~7). Kernel work done in kworkers (a network namespace's teardown) counts for
# nobody. The loop's own fork + exec of each tool is in every figure alike; "floor" is that
# loop running /bin/true.
cgbase=""
for d in /sys/fs/cgroup/unified /sys/fs/cgroup; do
  if [ -f "$d/cgroup.controllers" ]; then
    cgbase=$d
    break
  fi
done
cpu_of() {  # NAME COMMAND: mean CPU ms per run of COMMAND, all its processes
  cg="$cgbase/goodcop-bench-$$-$1"
  mkdir "$cg"
  sh -c 'echo $$ > "$1/cgroup.procs"; i=0; while [ $i -lt "$2" ]; do sh -c "$3" >/dev/null 2>&1; i=$((i + 1)); done' \
    cpu-bench "$cg" "$runs" "$2"
  # A detached pid 1 may still be dying: wait until the cgroup is empty.
  n=0
  while grep -q "populated 1" "$cg/cgroup.events" 2>/dev/null && [ $n -lt 100 ]; do
    sleep 0.05
    n=$((n + 1))
  done
  usage=$(awk '$1 == "usage_usec" { print $2 }' "$cg/cpu.stat")
  rmdir "$cg"
  echo "$usage $runs" | awk '{ printf "%.3f", $1 / $2 / 1000 }'
}

cpus=""
if [ -n "$cgbase" ]; then
  for n in floor $names; do
    case $n in
      floor) c=/bin/true ;; chroot) c=$cmd_chroot ;; unshare+chroot) c=$cmd_unshare ;;
      bwrap) c=$cmd_bwrap ;; goodcop-old) c=$cmd_old ;; *) c=$cmd_goodcop ;;
    esac
    cpus="$cpus
$n $(cpu_of "$n" "$c")"
  done
fi

# Wall time suffers from whatever else the machine runs; CPU time is the cost that doesn't,
# so both are shown.
{
  echo "$means" | awk 'NF == 4 { print "wall", $1, $2, $3 }'
  echo "$cpus" | awk 'NF == 2 { print "cpu", $1, $2 }'
} | awk '$1 == "wall" { name[++n] = $2; mean[$2] = $3; sd[$2] = $4 }
         $1 == "cpu" { cpu[$2] = $3; if ($2 == "floor") floor = $3 }
  END {
    b = mean["bwrap"]; bc = cpu["bwrap"];
    printf "%-16s %10s %10s %10s %12s %12s\n", "tool", "wall ms", "stddev", "cpu ms",
           "wall/bwrap", "cpu/bwrap";
    for (i = 1; i <= n; i++) {
      t = name[i];
      printf "%-16s %10.2f %10.2f %10s %11.2fx %11s\n", t, mean[t], sd[t],
             (t in cpu ? sprintf("%.2f", cpu[t]) : "-"), mean[t] / b,
             (t in cpu && bc > 0 ? sprintf("%.2fx", cpu[t] / bc) : "-");
    }
    if (floor != "") printf "(cpu: all processes of a run, in a cgroup; the loop running /bin/true costs %.2f ms of it)\n", floor;
  }'
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
