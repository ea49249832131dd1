#!/usr/bin/env bash
# bench/backups.sh: seal and restore timings of goodcop against GNU tar and bsdtar
# (same trees, same zstd compression, create and extract), plus the overlay-mode
# restore, with ratios, in one run. Run by hand, as root; NOT run by ctest.
#
#   bench/backups.sh [BUILD_DIR]        (default build/release; GOODCOP=path overrides)
#
# Trees: a Debian bookworm minbase rootfs (debootstrap --variant=minbase into the
# tmpfs; the result is cached as a tarball in /var/cache/goodcop-bench) and a web-like
# payload from gen-tree (20000 files, 300 MiB). Everything runs on a tmpfs this
# script mounts and unmounts, so the disk (ext4 without a journal, slow on many
# small files) does not dominate. Each step prints wall time and CPU time (user+sys,
# children included): the machine may be busy, CPU time is the fairer figure.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build/release}
GOODCOP=${GOODCOP:-$BUILD/watchdog/goodcop}
GEN_TREE=${GEN_TREE:-$ROOT/../shared/tools/gen-tree}
CACHE=/var/cache/goodcop-bench
MIRROR=${MIRROR:-http://deb.debian.org/debian}

[ "$(id -u)" = 0 ] || { echo "bench/backups.sh: needs root (tmpfs, owners, overlay)" >&2; exit 2; }
[ -x "$GOODCOP" ] || { echo "bench/backups.sh: no goodcop binary at '$GOODCOP'" >&2; exit 2; }
"$GOODCOP" seal --help 2>/dev/null | grep -q -- --golden ||
  { echo "bench/backups.sh: '$GOODCOP' has no offline 'seal DIR -o ARCHIVE' verb" >&2; exit 2; }
need() { command -v "$1" >/dev/null || apt-get install -y -qq "$2" >/dev/null; }
need bsdtar libarchive-tools
need zstd zstd
need debootstrap debootstrap
[ -x /usr/bin/time ] || apt-get install -y -qq time >/dev/null

T=$(mktemp -d /tmp/goodcop-bench.XXXXXX)
mount -t tmpfs -o size=6g,mode=0755 goodcop-bench "$T"
cleanup() {
  mountpoint -q "$T/merged" 2>/dev/null && umount "$T/merged"
  umount -l "$T" 2>/dev/null || true
  rmdir "$T" 2>/dev/null || true
}
trap cleanup EXIT

now() { date +%s%N; }
ms() { echo $(( ($2 - $1) / 1000000 )); }
# measure NAME CMD...: runs CMD (output discarded); sets NAME_w (wall ms) and NAME_c
# (user+sys ms of CMD and everything it waited for). A failure stops the bench.
measure() {
  local name=$1 r u s
  shift
  if ! /usr/bin/time -f "%e %U %S" -o "$T/time.out" "$@" >/dev/null 2>"$T/err.out"; then
    echo "FAILED: $*" >&2; cat "$T/err.out" >&2; exit 3
  fi
  read -r r u s < <(tail -1 "$T/time.out")
  printf -v "${name}_w" '%s' "$(awk -v x="$r" 'BEGIN { printf "%d", x * 1000 }')"
  printf -v "${name}_c" '%s' "$(awk -v u="$u" -v s="$s" 'BEGIN { printf "%d", (u + s) * 1000 }')"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "-"; else printf "%.2fx", a / b }'; }
# row TREE STEP G T B: one line of wall/CPU figures for goodcop, GNU tar, bsdtar, with ratios.
row() {
  local g=$3 t=$4 b=$5 gw gc tw tc bw bc
  eval "gw=\${${g}_w} gc=\${${g}_c} tw=\${${t}_w} tc=\${${t}_c} bw=\${${b}_w} bc=\${${b}_c}"
  printf "%-7s %-16s %6sms %6sms | %6sms %6sms | %6sms %6sms | %6s %6s | %6s %6s\n" "$1" "$2" \
    "$gw" "$gc" "$tw" "$tc" "$bw" "$bc" "$(ratio "$gw" "$tw")" "$(ratio "$gc" "$tc")" \
    "$(ratio "$gw" "$bw")" "$(ratio "$gc" "$bc")"
}

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) cores)"
trees=()
# 1. Debian minbase rootfs, debootstrapped into the tmpfs (cached after the first run).
if [ -f "$CACHE/bookworm-minbase.tar" ]; then
  mkdir "$T/rootfs"
  tar --xattrs --acls --numeric-owner -xpf "$CACHE/bookworm-minbase.tar" -C "$T/rootfs"
elif curl -fsI --max-time 5 "$MIRROR/dists/bookworm/Release" >/dev/null 2>&1; then
  mkdir -p "$CACHE"
  echo "debootstrap --variant=minbase bookworm (once, cached in $CACHE) ..."
  debootstrap --variant=minbase bookworm "$T/rootfs" "$MIRROR" >"$T/debootstrap.log" 2>&1 ||
    { tail -20 "$T/debootstrap.log" >&2; exit 3; }
  tar --xattrs --acls --numeric-owner -cf "$CACHE/bookworm-minbase.tar" -C "$T/rootfs" .
else
  echo "(Debian mirror unreachable: minbase rootfs skipped)"
fi
[ -d "$T/rootfs" ] && trees+=(rootfs)
# 2. A web-hosting payload.
"$GEN_TREE" "$T/web" 20000 300 goodcop-bench >/dev/null 2>&1
trees+=(web)

echo
echo "wall and CPU (user+sys) per tool; ratios goodcop/GNU tar and goodcop/bsdtar (wall, CPU)"
printf "%-7s %-16s %17s | %17s | %17s | %13s | %13s\n" tree step "goodcop wall cpu" \
  "GNU tar wall cpu" "bsdtar wall cpu" "vs GNU tar" "vs bsdtar"
for tree in "${trees[@]}"; do
  src=$T/$tree
  entries=$(find "$src" | wc -l)
  size=$(du -sm "$src" | cut -f1)
  echo "-- $tree: $entries entries, $size MiB (load $(cut -d' ' -f1-3 /proc/loadavg))"
  # create: goodcop also builds the manifest (hashes every file) and records the digest
  measure gc "$GOODCOP" seal "$src" -o "$T/g.tar.zst"
  measure tc tar --zstd --xattrs --acls --sparse --numeric-owner -cf "$T/t.tar.zst" -C "$src" .
  measure bc bsdtar --zstd -cf "$T/b.tar.zst" -C "$src" .
  row "$tree" "create" gc tc bc
  # extract: goodcop verifies the digest, checks every member against the manifest,
  # re-verifies the extracted tree and swaps it in
  mkdir "$T/t-out" "$T/b-out"
  measure gx "$GOODCOP" restore "$T/g.tar.zst" "$T/g-out"
  measure tx tar --zstd --xattrs --acls --numeric-owner -xpf "$T/t.tar.zst" -C "$T/t-out"
  measure bx bsdtar --zstd -xpf "$T/b.tar.zst" -C "$T/b-out"
  row "$tree" "extract (new)" gx tx bx
  # a restore over an existing tree (the heal path: swap, then remove the old tree),
  # against the tools' "rm -rf the tree, extract again"
  measure gr "$GOODCOP" restore "$T/g.tar.zst" "$T/g-out"
  measure tr sh -c "rm -rf '$T/t-out' && mkdir '$T/t-out' && tar --zstd --xattrs --acls --numeric-owner -xpf '$T/t.tar.zst' -C '$T/t-out'"
  measure br sh -c "rm -rf '$T/b-out' && mkdir '$T/b-out' && bsdtar --zstd -xpf '$T/b.tar.zst' -C '$T/b-out'"
  row "$tree" "restore (over)" gr tr br
  measure gv "$GOODCOP" restore --check "$T/g.tar.zst"
  printf "%-7s %-16s %6sms %6sms\n" "$tree" "verify only" "$gv_w" "$gv_c"
  # overlay mode: the lower tree once per archive version, then a restore is a fresh
  # upper (the same steps as backups::reset_upper + mount_overlay)
  measure gl "$GOODCOP" restore --lower "$T/lower" "$T/g.tar.zst"
  printf "%-7s %-16s %6sms %6sms\n" "$tree" "overlay: lower" "$gl_w" "$gl_c"
  lower=$(ls -d "$T"/lower/*/ | head -1)
  mkdir -p "$T/state/upper" "$T/state/work" "$T/merged"
  mount -t overlay overlay -o "lowerdir=$lower,upperdir=$T/state/upper,workdir=$T/state/work" "$T/merged"
  cp -r "$src/etc" "$T/merged/tampered" 2>/dev/null || echo x > "$T/merged/tampered"
  a=$(now)
  umount "$T/merged"
  rm -rf "$T/state/upper.prev"; mv "$T/state/upper" "$T/state/upper.prev"
  rm -rf "$T/state/work"; mkdir "$T/state/upper" "$T/state/work"
  mount -t overlay overlay -o "lowerdir=$lower,upperdir=$T/state/upper,workdir=$T/state/work" "$T/merged"
  b=$(now)
  o_r=$(ms "$a" "$b")
  umount "$T/merged"
  printf "%-7s %-16s %6sms %8s (plain restore / overlay restore, wall: %s)\n" "$tree" \
    "overlay: restore" "$o_r" "" "$(ratio "$gr_w" "$((o_r > 0 ? o_r : 1))")"
  gs=$(stat -c %s "$T/g.tar.zst"); ts=$(stat -c %s "$T/t.tar.zst"); bs=$(stat -c %s "$T/b.tar.zst")
  printf "%-7s %-16s %15s | %15s | %15s | %6s | %6s\n" "$tree" "archive bytes" "$gs" "$ts" "$bs" \
    "$(ratio "$gs" "$ts")" "$(ratio "$gs" "$bs")"
  rm -rf "$T"/g.tar.zst* "$T"/t.tar.zst "$T"/b.tar.zst "$T"/g-out "$T"/t-out "$T"/b-out \
    "$T"/lower "$T"/state "$T"/.goodcop-staging-*
done
echo
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "goodcop's seal also builds the manifest (hashes every file); its restore verifies the"
echo "archive digest, checks every member against the manifest, re-verifies the extracted"
echo "tree and swaps it in atomically: GNU tar and bsdtar do none of that."
