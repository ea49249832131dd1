#!/usr/bin/env bash
# bench/integrity.sh: goodcop manifest build / verify (quick, full) side by side with
# the tools an operator would otherwise use, on generated jail-like trees.
#
# Usage (as root; run by hand, not by ctest):
#   bench/integrity.sh [NFILES:MB ...]        default: 20000:500 200000:2048
# Env: GOODCOP=path to a Release goodcop (default build/integrity-rel/watchdog/goodcop)
#      GEN_TREE=path to gen-tree (default /work/shared/tools/gen-tree)
#      SKIP_AIDE=1 to leave AIDE out (it is the slowest by far)
#
# Everything lives on a tmpfs this script mounts and unmounts (trap), so the disk
# does not dominate and every tool reads from the page cache alike.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
GOODCOP=${GOODCOP:-$here/build/integrity-rel/watchdog/goodcop}
GEN_TREE=${GEN_TREE:-/work/shared/tools/gen-tree}
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(20000:500 200000:2048)

[ "$(id -u)" = 0 ] || { echo "bench/integrity.sh: needs root (tmpfs mount, gen-tree owners)" >&2; exit 2; }
[ -x "$GOODCOP" ] || { echo "bench/integrity.sh: no goodcop at '$GOODCOP' (build Release first)" >&2; exit 2; }

need=()
command -v aide >/dev/null || need+=(aide)
command -v b3sum >/dev/null || need+=(b3sum)
[ -x /usr/bin/time ] || need+=(time)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y "${need[@]}" >/dev/null
fi

mnt=$(mktemp -d /tmp/goodcop-bench.XXXXXX)
mount -t tmpfs -o size=8g,mode=0700 goodcop-bench "$mnt"
cleanup() { umount "$mnt" 2>/dev/null || umount -l "$mnt"; rmdir "$mnt"; }
trap cleanup EXIT

echo "machine: $(nproc) cores, $(uname -r), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
echo "openssl speed -evp sha256 -multi $(nproc) (16 KiB blocks):"
openssl speed -seconds 2 -multi "$(nproc)" -evp sha256 2>/dev/null | awk '/^sha256/ {print "  " $7 " per second on all cores"}'

# measure NAME CMD...: runs once, records wall seconds, CPU seconds (user+sys,
# children included: a fair figure when other jobs load the machine) and peak RSS (KiB).
declare -A secs cpu rss
measure() {
  local name=$1; shift
  local out=$mnt/time.out
  /usr/bin/time -f '%e %M %U %S' -o "$out" "$@" >/dev/null 2>"$mnt/err.out" || true
  read -r s r u k < <(tail -1 "$out")
  secs[$name]=$s
  rss[$name]=$r
  cpu[$name]=$(awk -v u="$u" -v k="$k" 'BEGIN {printf "%.2f", u + k}')
}

for spec in "${sizes[@]}"; do
  n=${spec%%:*}; mb=${spec##*:}
  tree=$mnt/tree-$n
  echo
  echo "== tree: $n files, $mb MiB (gen-tree seed bench) =="
  t0=$(date +%s.%N)
  "$GEN_TREE" "$tree" "$n" "$mb" bench >/dev/null
  echo "generated in $(echo "$(date +%s.%N) - $t0" | bc) s"
  bytes=$(find "$tree" -type f -printf '%s\n' | awk '{s+=$1} END {print s}')
  files=$(find "$tree" -type f | wc -l)
  entries=$(find "$tree" | wc -l)
  echo "regular files: $files, entries: $entries, bytes: $bytes"
  # Every file read once before anything is timed, so every tool meets the page cache
  # alike: the first read of the freshly generated files cost more system time, and the
  # tool run first (goodcop build) paid it alone (200,000 files: 2.55 s of system time in
  # the first build of a fresh tree, 2.26 s in the next two).
  find "$tree" -type f -print0 | xargs -0 cat >/dev/null

  mf=$mnt/m-$n.mtree
  measure "goodcop build" "$GOODCOP" manifest build "$tree" -o "$mf" --no-progress
  measure "goodcop verify quick" "$GOODCOP" manifest verify --quick "$tree" "$mf"
  rc=0; "$GOODCOP" manifest verify --quick "$tree" "$mf" >/dev/null || rc=$?
  [ $rc = 0 ] || echo "WARNING: quick verify of the unchanged tree exited $rc"
  measure "goodcop verify full" "$GOODCOP" manifest verify "$tree" "$mf"
  measure "find|xargs openssl dgst" sh -c "find '$tree' -type f -print0 | xargs -0 openssl dgst -sha256"
  measure "find|xargs b3sum" sh -c "find '$tree' -type f -print0 | xargs -0 b3sum"
  measure "find -printf (metadata)" find "$tree" -printf '%s %T@ %C@ %i %m %U %G\n'
  if [ "${SKIP_AIDE:-0}" != 1 ]; then
    conf=$mnt/aide.conf
    cat >"$conf" <<CONF
database_in=file:$mnt/aide.db
database_out=file:$mnt/aide.db.new
gzip_dbout=no
log_level=error
report_level=summary
Goodcop = p+i+n+u+g+s+m+c+sha256+xattrs
$tree Goodcop
CONF
    measure "aide --init" aide --init -c "$conf"
    mv "$mnt/aide.db.new" "$mnt/aide.db"
    measure "aide --check" aide --check -c "$conf"
    rm -f "$mnt/aide.db"
  fi

  echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
  printf '\n%-26s %9s %9s %10s %11s %10s\n' tool seconds cpu-s MB/s files/s "RSS MiB"
  for name in "goodcop build" "goodcop verify quick" "goodcop verify full" \
              "find|xargs openssl dgst" "find|xargs b3sum" "find -printf (metadata)" \
              "aide --init" "aide --check"; do
    [ -n "${secs[$name]:-}" ] || continue
    awk -v n="$name" -v s="${secs[$name]}" -v c="${cpu[$name]}" -v r="${rss[$name]}" -v b="$bytes" -v f="$files" 'BEGIN {
      if (s < 0.005) s = 0.005
      printf "%-26s %9.2f %9.2f %10.0f %11.0f %10.1f\n", n, s, c, b / 1048576 / s, f / s, r / 1024 }'
  done
  ratio() { awk -v a="${secs[$1]}" -v b="${secs[$2]}" 'BEGIN { if (b < 0.005) b = 0.005; printf "%.2f", a / b }'; }
  cratio() { awk -v a="${cpu[$1]}" -v b="${cpu[$2]}" 'BEGIN { if (b < 0.005) b = 0.005; printf "%.2f", a / b }'; }
  echo
  echo "cpu-second ratios: quick / find -printf = $(cratio 'goodcop verify quick' 'find -printf (metadata)')," \
       "build / xargs openssl = $(cratio 'goodcop build' 'find|xargs openssl dgst')"
  echo "wall-clock ratios (target in brackets):"
  echo "  build / xargs openssl dgst  = $(ratio 'goodcop build' 'find|xargs openssl dgst')   [<= 0.6]"
  echo "  verify full / xargs openssl = $(ratio 'goodcop verify full' 'find|xargs openssl dgst')"
  echo "  quick / find -printf        = $(ratio 'goodcop verify quick' 'find -printf (metadata)')   [<= 1.5]"
  echo "  build / b3sum               = $(ratio 'goodcop build' 'find|xargs b3sum')"
  if [ -n "${secs[aide --init]:-}" ]; then
    echo "  aide --init / build         = $(ratio 'aide --init' 'goodcop build')   [>= 10]"
    echo "  aide --check / quick        = $(ratio 'aide --check' 'goodcop verify quick')   [>= 50]"
    echo "  peak RSS build / aide --init = $(awk -v a="${rss[goodcop build]}" -v b="${rss[aide --init]}" 'BEGIN {printf "%.2f", a / b}')   [< 1]"
    echo "  peak RSS quick / aide --check = $(awk -v a="${rss[goodcop verify quick]}" -v b="${rss[aide --check]}" 'BEGIN {printf "%.2f", a / b}')   [< 1]"
  fi
  unset secs cpu rss; declare -A secs cpu rss
  rm -rf "$tree" "$mf"
done
