#include "snapshotter/layer_apply.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <memory>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "runtime/base/errno_status.h"
#include "runtime/base/status_macros.h"
#include "runtime/base/unique_fd.h"
#include "snapshotter/tar_stream.h"
#include "snapshotter/tree_removal.h"

namespace berth::snapshotter {
namespace {

constexpr absl::string_view kWhiteoutPrefix = ".wh.";
constexpr absl::string_view kOpaqueMarker = ".wh..wh..opq";

// An entry's path split into components, or an error for one that could
// leave the layer.
absl::StatusOr<std::vector<std::string>> SplitEntryPath(absl::string_view name) {
  if (absl::StartsWith(name, "/")) {
    return absl::PermissionDeniedError(absl::StrCat("entry \"", name, "\" has an absolute path"));
  }
  std::vector<std::string> parts;
  for (absl::string_view part : absl::StrSplit(name, '/', absl::SkipEmpty())) {
    if (part == ".") continue;
    if (part == "..") {
      return absl::PermissionDeniedError(
          absl::StrCat("entry \"", name, "\" climbs out with \"..\""));
    }
    parts.emplace_back(part);
  }
  return parts;
}

long OpenBeneath(int dir_fd, const std::string& path, int flags) {
  open_how how{};
  how.flags = static_cast<uint64_t>(flags | O_CLOEXEC | O_NOFOLLOW);
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;
  long fd;
  do {
    fd = syscall(SYS_openat2, dir_fd, path.c_str(), &how, sizeof(how));
  } while (fd < 0 && errno == EAGAIN);
  return fd;
}

struct DeferredDirectoryTimes {
  std::string path;  // relative to the layer root; "." for the root itself
  timespec times[2];
};

class LayerApplier {
 public:
  LayerApplier(UniqueFd root, TarStream& tar, int64_t max_entries)
      : root_(std::move(root)), tar_(tar), max_entries_(max_entries) {}

  absl::StatusOr<int64_t> Run() {
    int64_t entries = 0;
    while (true) {
      ASSIGN_OR_RETURN(archive_entry * entry, tar_.Next());
      if (entry == nullptr) break;
      if (entries == max_entries_) {
        return absl::ResourceExhaustedError(absl::StrCat(
            "more than ", max_entries_, " entries, the cap (image.max_layer_entries)"));
      }
      absl::Status status = ApplyEntry(entry);
      if (!status.ok()) {
        return absl::Status(status.code(),
                            absl::StrCat("layer entry \"", archive_entry_pathname(entry),
                                         "\": ", status.message()));
      }
      ++entries;
    }
    RETURN_IF_ERROR(ApplyDirectoryTimes());
    return entries;
  }

 private:
  // The directory holding `parts[0..n-1]`, created (0755, root-owned) when
  // missing. Never follows a symlink.
  absl::StatusOr<int> ParentDirectory(const std::vector<std::string>& parts, size_t n) {
    if (n == 0) return root_.get();
    std::string path = absl::StrJoin(parts.begin(), parts.begin() + n, "/");
    if (parent_.valid() && path == parent_path_) return parent_.get();
    long fd = OpenBeneath(root_.get(), path, O_RDONLY | O_DIRECTORY);
    if (fd < 0 && errno == ENOENT) {
      UniqueFd current(dup(root_.get()));
      for (size_t i = 0; i < n; ++i) {
        long next = OpenBeneath(current.get(), parts[i], O_RDONLY | O_DIRECTORY);
        if (next < 0 && errno == ENOENT) {
          if (mkdirat(current.get(), parts[i].c_str(), 0755) != 0 && errno != EEXIST) {
            return berth::ErrnoStatus("mkdir " + parts[i]);
          }
          next = OpenBeneath(current.get(), parts[i], O_RDONLY | O_DIRECTORY);
        }
        if (next < 0) return ParentError(path);
        current.Reset(static_cast<int>(next));
      }
      fd = current.Release();
    }
    if (fd < 0) return ParentError(path);
    parent_.Reset(static_cast<int>(fd));
    parent_path_ = std::move(path);
    return parent_.get();
  }

  static absl::Status ParentError(const std::string& path) {
    if (errno == ELOOP || errno == ENOTDIR || errno == EXDEV) {
      return absl::PermissionDeniedError(
          absl::StrCat("its directory \"", path, "\" is a symlink or not a directory"));
    }
    return berth::ErrnoStatus("open " + path);
  }

  // Makes room for a new entry: anything already there goes, except a
  // directory that a directory entry updates.
  absl::Status ClearName(int dir, const std::string& name, bool keep_directory) {
    struct stat st;
    if (fstatat(dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno == ENOENT) return absl::OkStatus();
      return berth::ErrnoStatus("stat " + name);
    }
    if (S_ISDIR(st.st_mode)) {
      if (keep_directory) return absl::OkStatus();
      InvalidateParentCache();
      return RemoveTreeAt(dir, name);
    }
    if (unlinkat(dir, name.c_str(), 0) != 0) return berth::ErrnoStatus("unlink " + name);
    return absl::OkStatus();
  }

  // The cached directory may lie inside what was just removed. It stays
  // open until the current entry is done, since the entry may be using it.
  void InvalidateParentCache() {
    retired_parent_ = std::move(parent_);
    parent_path_.clear();
  }

  absl::Status ApplyEntry(archive_entry* entry) {
    retired_parent_.Reset();
    ASSIGN_OR_RETURN(std::vector<std::string> parts, SplitEntryPath(archive_entry_pathname(entry)));
    if (parts.empty()) {  // "./": the layer root's own metadata
      if (archive_entry_filetype(entry) != AE_IFDIR) {
        return absl::PermissionDeniedError("the layer root must be a directory");
      }
      RETURN_IF_ERROR(SetOwnerAndMode(root_.get(), entry));
      RememberDirectoryTimes(".", entry);
      return absl::OkStatus();
    }
    const std::string& name = parts.back();
    ASSIGN_OR_RETURN(int dir, ParentDirectory(parts, parts.size() - 1));

    if (absl::StartsWith(name, kWhiteoutPrefix)) return ApplyWhiteout(dir, name);

    if (const char* link = archive_entry_hardlink(entry); link != nullptr) {
      return ApplyHardLink(dir, name, link);
    }
    switch (archive_entry_filetype(entry)) {
      case AE_IFREG:
        return ApplyRegularFile(dir, name, entry);
      case AE_IFDIR:
        return ApplyDirectory(dir, parts, entry);
      case AE_IFLNK:
        return ApplySymlink(dir, name, entry);
      case AE_IFCHR:
      case AE_IFBLK:
      case AE_IFIFO:
        return ApplySpecialFile(dir, name, entry);
      default:  // sockets cannot be unpacked; tar skips them too
        return absl::OkStatus();
    }
  }

  absl::Status ApplyWhiteout(int dir, const std::string& name) {
    if (name == kOpaqueMarker) {
      if (fsetxattr(dir, "trusted.overlay.opaque", "y", 1, 0) != 0) {
        return berth::ErrnoStatus("set trusted.overlay.opaque");
      }
      return absl::OkStatus();
    }
    std::string hidden = name.substr(kWhiteoutPrefix.size());
    // Other ".wh..wh." names are aufs bookkeeping with no overlay meaning.
    if (absl::StartsWith(hidden, kWhiteoutPrefix) || hidden.empty()) return absl::OkStatus();
    RETURN_IF_ERROR(ClearName(dir, hidden, /*keep_directory=*/false));
    if (mknodat(dir, hidden.c_str(), S_IFCHR | 0000, makedev(0, 0)) != 0) {
      return berth::ErrnoStatus("mknod whiteout " + hidden);
    }
    return absl::OkStatus();
  }

  absl::Status ApplyHardLink(int dir, const std::string& name, const char* link) {
    ASSIGN_OR_RETURN(std::vector<std::string> target, SplitEntryPath(link));
    if (target.empty()) return absl::PermissionDeniedError("hard link to the layer root");
    std::string target_dir_path = absl::StrJoin(target.begin(), target.end() - 1, "/");
    UniqueFd target_dir;
    if (target.size() > 1) {
      long fd = OpenBeneath(root_.get(), target_dir_path, O_PATH | O_DIRECTORY);
      if (fd < 0) {
        return absl::PermissionDeniedError(
            absl::StrCat("hard link to \"", link, "\", which is not in this layer"));
      }
      target_dir.Reset(static_cast<int>(fd));
    }
    int from = target.size() > 1 ? target_dir.get() : root_.get();
    struct stat st;
    if (fstatat(from, target.back().c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 ||
        S_ISDIR(st.st_mode)) {
      return absl::PermissionDeniedError(
          absl::StrCat("hard link to \"", link, "\", which is not a file in this layer"));
    }
    RETURN_IF_ERROR(ClearName(dir, name, /*keep_directory=*/false));
    if (linkat(from, target.back().c_str(), dir, name.c_str(), 0) != 0) {
      return berth::ErrnoStatus(absl::StrCat("link to ", link));
    }
    return absl::OkStatus();
  }

  absl::Status ApplyRegularFile(int dir, const std::string& name, archive_entry* entry) {
    RETURN_IF_ERROR(ClearName(dir, name, /*keep_directory=*/false));
    UniqueFd fd(
        openat(dir, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!fd) return berth::ErrnoStatus("create " + name);
    int64_t end = 0;
    RETURN_IF_ERROR(tar_.ReadData([&](absl::string_view data, int64_t offset) -> absl::Status {
      while (!data.empty()) {
        ssize_t n = pwrite(fd.get(), data.data(), data.size(), offset);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return berth::ErrnoStatus("write " + name);
        data.remove_prefix(static_cast<size_t>(n));
        offset += n;
      }
      end = std::max<int64_t>(end, offset);
      return absl::OkStatus();
    }));
    // Sparse files may end in a hole.
    if (int64_t size = archive_entry_size(entry); size > end) {
      if (ftruncate(fd.get(), size) != 0) return berth::ErrnoStatus("truncate " + name);
    }
    RETURN_IF_ERROR(SetOwnerAndMode(fd.get(), entry));
    RETURN_IF_ERROR(SetXattrs(fd.get(), entry));
    timespec times[2] = {EntryAtime(entry), EntryMtime(entry)};
    if (futimens(fd.get(), times) != 0) return berth::ErrnoStatus("set times of " + name);
    return absl::OkStatus();
  }

  absl::Status ApplyDirectory(int dir, const std::vector<std::string>& parts,
                              archive_entry* entry) {
    const std::string& name = parts.back();
    RETURN_IF_ERROR(ClearName(dir, name, /*keep_directory=*/true));
    if (mkdirat(dir, name.c_str(), 0700) != 0 && errno != EEXIST) {
      return berth::ErrnoStatus("mkdir " + name);
    }
    long fd = OpenBeneath(dir, name, O_RDONLY | O_DIRECTORY);
    if (fd < 0) return berth::ErrnoStatus("open " + name);
    UniqueFd directory(static_cast<int>(fd));
    RETURN_IF_ERROR(SetOwnerAndMode(directory.get(), entry));
    RETURN_IF_ERROR(SetXattrs(directory.get(), entry));
    RememberDirectoryTimes(absl::StrJoin(parts, "/"), entry);
    return absl::OkStatus();
  }

  absl::Status ApplySymlink(int dir, const std::string& name, archive_entry* entry) {
    const char* target = archive_entry_symlink(entry);
    if (target == nullptr) return absl::DataLossError("symlink without a target");
    RETURN_IF_ERROR(ClearName(dir, name, /*keep_directory=*/false));
    // The target is only text here; it is resolved inside the container's root at run time.
    if (symlinkat(target, dir, name.c_str()) != 0) return berth::ErrnoStatus("symlink " + name);
    if (fchownat(dir, name.c_str(), static_cast<uid_t>(archive_entry_uid(entry)),
                 static_cast<gid_t>(archive_entry_gid(entry)), AT_SYMLINK_NOFOLLOW) != 0) {
      return berth::ErrnoStatus("chown " + name);
    }
    timespec times[2] = {EntryAtime(entry), EntryMtime(entry)};
    if (utimensat(dir, name.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0) {
      return berth::ErrnoStatus("set times of " + name);
    }
    return absl::OkStatus();
  }

  absl::Status ApplySpecialFile(int dir, const std::string& name, archive_entry* entry) {
    RETURN_IF_ERROR(ClearName(dir, name, /*keep_directory=*/false));
    mode_t type = archive_entry_filetype(entry) == AE_IFCHR   ? S_IFCHR
                  : archive_entry_filetype(entry) == AE_IFBLK ? S_IFBLK
                                                              : S_IFIFO;
    dev_t device = makedev(archive_entry_rdevmajor(entry), archive_entry_rdevminor(entry));
    if (mknodat(dir, name.c_str(), type | 0600, device) != 0) {
      return berth::ErrnoStatus("mknod " + name);
    }
    long fd = OpenBeneath(dir, name, O_PATH);
    if (fd < 0) return berth::ErrnoStatus("open " + name);
    UniqueFd node(static_cast<int>(fd));
    // fchown/fchmod refuse O_PATH fds; the /proc path names exactly this inode.
    std::string proc_path = absl::StrCat("/proc/self/fd/", node.get());
    if (chown(proc_path.c_str(), static_cast<uid_t>(archive_entry_uid(entry)),
              static_cast<gid_t>(archive_entry_gid(entry))) != 0) {
      return berth::ErrnoStatus("chown " + name);
    }
    if (chmod(proc_path.c_str(), archive_entry_perm(entry) & 07777) != 0) {
      return berth::ErrnoStatus("chmod " + name);
    }
    timespec times[2] = {EntryAtime(entry), EntryMtime(entry)};
    if (utimensat(AT_FDCWD, proc_path.c_str(), times, 0) != 0) {
      return berth::ErrnoStatus("set times of " + name);
    }
    return absl::OkStatus();
  }

  static absl::Status SetOwnerAndMode(int fd, archive_entry* entry) {
    if (fchown(fd, static_cast<uid_t>(archive_entry_uid(entry)),
               static_cast<gid_t>(archive_entry_gid(entry))) != 0) {
      return berth::ErrnoStatus("chown");
    }
    // After chown, which clears set-id bits.
    if (fchmod(fd, archive_entry_perm(entry) & 07777) != 0) return berth::ErrnoStatus("chmod");
    return absl::OkStatus();
  }

  // user.* and file capabilities carry meaning for the container; trusted.*
  // (overlay's own metadata among them) and other security.* names would
  // let a layer forge state that is not its to set.
  static bool IsAllowedXattr(absl::string_view name) {
    return absl::StartsWith(name, "user.") || name == "security.capability";
  }

  static absl::Status SetXattrs(int fd, archive_entry* entry) {
    if (archive_entry_xattr_reset(entry) == 0) return absl::OkStatus();
    const char* name;
    const void* value;
    size_t size;
    while (archive_entry_xattr_next(entry, &name, &value, &size) == ARCHIVE_OK) {
      if (!IsAllowedXattr(name)) continue;
      if (fsetxattr(fd, name, value, size, 0) != 0 && errno != ENOTSUP) {
        return berth::ErrnoStatus(absl::StrCat("set xattr ", name));
      }
    }
    return absl::OkStatus();
  }

  static timespec EntryMtime(archive_entry* entry) {
    return {archive_entry_mtime(entry), archive_entry_mtime_nsec(entry)};
  }

  static timespec EntryAtime(archive_entry* entry) {
    if (archive_entry_atime_is_set(entry) == 0) return EntryMtime(entry);
    return {archive_entry_atime(entry), archive_entry_atime_nsec(entry)};
  }

  void RememberDirectoryTimes(std::string path, archive_entry* entry) {
    directory_times_.push_back({std::move(path), {EntryAtime(entry), EntryMtime(entry)}});
  }

  // Directory mtimes change with every entry created in them, so they are
  // set last, deepest first.
  absl::Status ApplyDirectoryTimes() {
    for (auto it = directory_times_.rbegin(); it != directory_times_.rend(); ++it) {
      long fd = it->path == "." ? dup(root_.get())
                                : OpenBeneath(root_.get(), it->path, O_RDONLY | O_DIRECTORY);
      // Removed later in the layer (a whiteout or a replacing entry).
      if (fd < 0) continue;
      UniqueFd directory(static_cast<int>(fd));
      if (futimens(directory.get(), it->times) != 0) {
        return berth::ErrnoStatus("set times of " + it->path);
      }
    }
    return absl::OkStatus();
  }

  UniqueFd root_;
  TarStream& tar_;
  int64_t max_entries_;
  UniqueFd parent_;
  std::string parent_path_;
  UniqueFd retired_parent_;
  std::vector<DeferredDirectoryTimes> directory_times_;
};

}  // namespace

absl::StatusOr<LayerApplyResult> ApplyLayer(const ByteSource& source, const std::string& target,
                                            const LayerLimits& limits) {
  UniqueFd root(open(target.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW));
  if (!root) return berth::ErrnoStatus("open " + target);
  TarStream tar(source, absl::StatusCode::kDataLoss, limits.max_bytes);
  LayerApplier applier(std::move(root), tar, limits.max_entries);
  absl::StatusOr<int64_t> entries = applier.Run();
  absl::Status drained = entries.ok() ? tar.Drain() : entries.status();
  // The stream stops at the cap (padding after the tar's end included):
  // say which cap, in the config's terms.
  if (tar.reader().uncompressed_size() > limits.max_bytes) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "more than ", limits.max_bytes, " bytes uncompressed, the cap (image.max_layer_size)"));
  }
  RETURN_IF_ERROR(drained);
  LayerApplyResult result;
  result.diff_id = tar.reader().diff_id();
  result.uncompressed_size = tar.reader().uncompressed_size();
  result.compression = tar.reader().compression();
  result.entries = *entries;
  return result;
}

}  // namespace berth::snapshotter
