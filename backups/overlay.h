#pragma once
// Overlay mode (DESIGN.md "Storage of a jail"): a golden archive is extracted once,
// verified, into a read-only lower tree per archive version, shared by every
// restore; the jail's root is an overlay of that lower tree and a per-jail upper
// directory, so a restore is "keep the old upper as evidence, start a fresh empty one".

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "backups/extract.h"

namespace goodcop::backups {

// Extracts and verifies `archive` into `<lower_root>/<archive sha256>` unless that
// lower tree already exists (a finished lower tree only appears by rename), and
// returns its path. The archive's digest is checked either way.
std::string prepare_lower(const std::string& archive, const std::string& lower_root,
                          const ExtractLimits& limits = {});

// Removes the lower tree `lower` when it is still the directory (dev, ino): a check found it
// differing from its archive where no jail could have written (the host side or the disk
// changed it), and the next prepare_lower must extract the archive again instead of
// handing out the same damaged tree. Overlays still mounted on it go on until their own
// checks heal them. Returns false, and removes nothing, when `lower` is gone or already
// another directory (another jail's heal replaced it first). Safe from any thread.
bool discard_lower(const std::string& lower, dev_t dev, ino_t ino);

// The writable side of one jail's overlay: `<state>/upper` and `<state>/work`.
struct UpperDirs {
  std::string upper;
  std::string work;
};

// The upper/work pair under a jail's state directory (not created).
UpperDirs upper_dirs(const std::string& state_dir);

// Starts a fresh, empty upper (and work) directory. A previous upper is kept as
// `<state>/upper.prev` (replacing an older one) for the caller to preserve as
// evidence; its path is returned ("" when there was none).
std::string reset_upper(const std::string& state_dir);

// Mounts the overlay of `lower` (read-only) and the state's upper/work on `target`.
void mount_overlay(const std::string& lower, const std::string& state_dir,
                   const std::string& target);

// Unmounts an overlay mounted by mount_overlay (lazily if busy is false: never).
void unmount_overlay(const std::string& target);

// Mounts a filesystem of `bytes` (a policy's limits.disk) on `mount_dir` to hold a jail's
// upper and work: ext4 in a sparse image `<mount_dir>.img` on a loop device (autoclear),
// made with mkfs.ext4 (e2fsprogs). What a jail can write is capped in a filesystem of its
// own, so a full jail cannot starve the host or the evidence directory (which lives
// outside it), and the image costs disk only for what is written, never RAM. A leftover
// image of a crashed run is replaced. Throws Error ("disk quota '<dir>': ...").
void mount_upper_quota(const std::string& mount_dir, uint64_t bytes);

// Unmounts what mount_upper_quota mounted (the loop device detaches itself) and removes
// the image. Idempotent: a missing mount or image is not an error.
void unmount_upper_quota(const std::string& mount_dir);

// The image file behind mount_upper_quota(mount_dir): `<mount_dir>.img`.
std::string upper_quota_image(const std::string& mount_dir);

}  // namespace goodcop::backups
