#!/usr/bin/env bash
# bench/backups.sh: seal and restore timings of goodcop against GNU tar and bsdtar
# (same trees, same zstd compression, create and extract), plus the overlay-mode
# restore, with ratios, in one run. Run by hand, as root; NOT run by ctest.
#
#   bench/backups.sh [BUILD_DIR]        (default build/release; GOODCOP=path overrides)
#
# Trees: a Debian bookworm minbase rootfs (debootstrap, cached in
# /var/cache/goodcop-bench; skipped when the mirror is unreachable) and a web-like
# payload from gen-tree (20000 files, 300 MiB). Everything runs on a tmpfs this
# script mounts and unmounts, so the disk (ext4 without a journal, slow on many
# small files) does not dominate.
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
command -v bsdtar >/dev/null || apt-get install -y -qq libarchive-tools >/dev/null
command -v zstd >/dev/null || apt-get install -y -qq zstd >/dev/null

T=$(mktemp -d /tmp/goodcop-bench.XXXXXX)
mount -t tmpfs -o size=6g,mode=0755 goodcop-bench "$T"
cleanup() {
  for m in "$T"/merged; do mountpoint -q "$m" 2>/dev/null && umount "$m"; done
  umount -l "$T" 2>/dev/null || true
  rmdir "$T" 2>/dev/null || true
}
trap cleanup EXIT

now() { date +%s%N; }
ms() { echo $(( ($2 - $1) / 1000000 )); }
# run_ms CMD...: runs CMD (output discarded), prints elapsed milliseconds
run_ms() { local a b; a=$(now); "$@" >/dev/null 2>&1 || { echo "FAILED: $*" >&2; exit 3; }; b=$(now); ms "$a" "$b"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "-"; else printf "%.2fx", a / b }'; }

trees=()
# 1. Debian minbase rootfs (cached as a tarball after the first download).
if [ ! -f "$CACHE/bookworm-minbase.tar" ]; then
  if curl -fsI --max-time 5 "$MIRROR/dists/bookworm/Release" >/dev/null 2>&1; then
    command -v debootstrap >/dev/null || apt-get install -y -qq debootstrap >/dev/null
    mkdir -p "$CACHE"
    echo "debootstrap --variant=minbase bookworm (once, cached in $CACHE) ..."
    debootstrap --variant=minbase bookworm "$T/rootfs" "$MIRROR" >/dev/null
    tar --xattrs --acls --numeric-owner -cf "$CACHE/bookworm-minbase.tar" -C "$T/rootfs" .
  else
    echo "(Debian mirror unreachable: minbase rootfs skipped)"
  fi
else
  mkdir "$T/rootfs"
  tar --xattrs --acls --numeric-owner -xpf "$CACHE/bookworm-minbase.tar" -C "$T/rootfs"
fi
[ -d "$T/rootfs" ] && trees+=(rootfs)
# 2. A web-hosting payload.
"$GEN_TREE" "$T/web" 20000 300 goodcop-bench >/dev/null 2>&1
trees+=(web)

printf "\n%-8s %-22s %9s %9s %9s   %s\n" tree step goodcop "GNU tar" bsdtar "goodcop/GNU, goodcop/bsdtar"
for tree in "${trees[@]}"; do
  src=$T/$tree
  entries=$(find "$src" | wc -l)
  size=$(du -sm "$src" | cut -f1)
  # create
  g_c=$(run_ms "$GOODCOP" seal "$src" -o "$T/g.tar.zst")
  t_c=$(run_ms tar --zstd --xattrs --acls --sparse --numeric-owner -cf "$T/t.tar.zst" -C "$src" .)
  b_c=$(run_ms bsdtar --zstd -cf "$T/b.tar.zst" -C "$src" .)
  # extract (goodcop: verify digest, check every member, verify the tree, swap)
  g_x=$(run_ms "$GOODCOP" restore "$T/g.tar.zst" "$T/g-out")
  mkdir "$T/t-out" "$T/b-out"
  t_x=$(run_ms tar --zstd --xattrs --acls --numeric-owner -xpf "$T/t.tar.zst" -C "$T/t-out")
  b_x=$(run_ms bsdtar --zstd -xpf "$T/b.tar.zst" -C "$T/b-out")
  # a second restore over the existing tree (the heal path: swap + remove the old tree)
  g_r=$(run_ms "$GOODCOP" restore "$T/g.tar.zst" "$T/g-out")
  # overlay mode: the lower tree once per archive version, then a restore is a fresh
  # upper (the same steps as backups::reset_upper + mount_overlay)
  g_l=$(run_ms "$GOODCOP" restore "$T/g.tar.zst" --lower "$T/lower")
  lower=$(ls -d "$T"/lower/*/ | head -1)
  mkdir -p "$T/state" "$T/merged"
  mkdir "$T/state/upper" "$T/state/work"
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

  gs=$(stat -c %s "$T/g.tar.zst"); ts=$(stat -c %s "$T/t.tar.zst"); bs=$(stat -c %s "$T/b.tar.zst")
  echo "-- $tree: $entries entries, $size MiB"
  printf "%-8s %-22s %7sms %7sms %7sms   %s, %s\n" "$tree" "create (seal)" "$g_c" "$t_c" "$b_c" "$(ratio "$g_c" "$t_c")" "$(ratio "$g_c" "$b_c")"
  printf "%-8s %-22s %7sms %7sms %7sms   %s, %s\n" "$tree" "extract (restore new)" "$g_x" "$t_x" "$b_x" "$(ratio "$g_x" "$t_x")" "$(ratio "$g_x" "$b_x")"
  printf "%-8s %-22s %7sms\n" "$tree" "restore over old tree" "$g_r"
  printf "%-8s %-22s %7sms\n" "$tree" "overlay: lower (once)" "$g_l"
  printf "%-8s %-22s %7sms   (plain restore / overlay restore: %s)\n" "$tree" "overlay: restore" "$o_r" "$(ratio "$g_r" "$((o_r > 0 ? o_r : 1))")"
  printf "%-8s %-22s %9s %9s %9s   %s, %s\n" "$tree" "archive bytes" "$gs" "$ts" "$bs" "$(ratio "$gs" "$ts")" "$(ratio "$gs" "$bs")"
  rm -rf "$T"/g.tar.zst* "$T"/t.tar.zst "$T"/b.tar.zst "$T"/g-out "$T"/t-out "$T"/b-out "$T"/lower "$T"/state "$T"/.goodcop-staging-*
done
echo
echo "goodcop's seal also builds the manifest (hashes every file); its restore verifies the"
echo "archive digest, checks every member against the manifest, re-verifies the extracted"
echo "tree and swaps it in atomically: GNU tar and bsdtar do none of that."
