#include "runtime/rootfs.h"

#include <fcntl.h>
#include <linux/mount.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "runtime/base/errno_status.h"
#include "runtime/base/path_in_root.h"
#include "runtime/base/status_macros.h"
#include "runtime/mount_fd.h"
#include "runtime/mount_options.h"

namespace berth {
namespace {

absl::Status Mount(const std::string& source, const std::string& target, const char* type,
                   unsigned long flags, const std::string& data, const std::string& what) {
  if (::mount(source.empty() ? nullptr : source.c_str(), target.c_str(), type, flags,
              data.empty() ? nullptr : data.c_str()) != 0) {
    return ErrnoStatus(what);
  }
  return absl::OkStatus();
}

// Per-mount flags of a bind, applied to the clone before it is attached.
MountAttributes BindAttributes(const MountOptions& options) {
  return AttributesFromFlags(options.flags & ~(MS_BIND | MS_REC | MS_REMOUNT), options.clear_flags);
}

// What applies to a mount once attached: propagation, recursive attributes.
absl::Status FinishMount(int top, const MountOptions& options, const std::string& dest) {
  if (options.propagation != 0) {
    RETURN_IF_ERROR(SetMountAttributes(top,
                                       {.propagation = options.propagation & ~MS_REC,
                                        .recursive = (options.propagation & MS_REC) != 0},
                                       "propagation of " + dest));
  }
  return SetMountAttributes(
      top, {.set = options.recursive_set, .clear = options.recursive_clear, .recursive = true},
      dest);
}

// cgroup v1 inside the container: a tmpfs with each hierarchy's container
// directory bound under it; v2: a cgroup2 mount (the cgroup namespace makes
// the container's cgroup its root).
absl::Status MountCgroups(int root_fd, const oci::Mount& mount, const MountOptions& options,
                          const RootfsOptions& rootfs) {
  ASSIGN_OR_RETURN(UniqueFd dest, CreateInRoot(root_fd, mount.destination, true));
  unsigned long flags = options.flags & ~(MS_BIND | MS_REC | MS_REMOUNT);
  if (rootfs.cgroup_version == 2) {
    return Mount("cgroup2", FdPath(dest.get()), "cgroup2", flags, "",
                 "mount cgroup2 on " + mount.destination);
  }
  RETURN_IF_ERROR(Mount("tmpfs", FdPath(dest.get()), "tmpfs", flags & ~MS_RDONLY, "mode=755",
                        "mount tmpfs on " + mount.destination));
  for (const auto& [controller, host_dir] : rootfs.cgroup_dirs) {
    std::string sub = absl::StrCat(mount.destination, "/", controller);
    ASSIGN_OR_RETURN(UniqueFd target, CreateInRoot(root_fd, sub, true));
    UniqueFd source(::open(host_dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!source) return ErrnoStatus("open " + host_dir);
    ASSIGN_OR_RETURN(UniqueFd top, BindMount(source.get(), target.get(), false,
                                             BindAttributes(options), "bind " + sub));
    MountOptions bound = options;
    bound.propagation = 0;
    RETURN_IF_ERROR(FinishMount(top.get(), bound, sub));
  }
  if (flags & MS_RDONLY) {
    ASSIGN_OR_RETURN(UniqueFd top, OpenInRoot(root_fd, mount.destination, O_PATH | O_DIRECTORY));
    RETURN_IF_ERROR(SetMountAttributes(top.get(), {.set = MOUNT_ATTR_RDONLY},
                                       mount.destination + " read-only"));
  }
  return absl::OkStatus();
}

// Runs the options' hook the first time it is needed.
class CgroupBarrier {
 public:
  explicit CgroupBarrier(const RootfsOptions& options) : options_(options) {}
  absl::Status Pass() {
    if (passed_ || !options_.before_cgroup_mounts) return absl::OkStatus();
    passed_ = true;
    return options_.before_cgroup_mounts();
  }

 private:
  const RootfsOptions& options_;
  bool passed_ = false;
};

// Attaches a mount the parent idmapped (and gave the bind's flags).
absl::Status AttachIdmapped(int root_fd, const oci::Mount& mount, const MountOptions& options,
                            int tree) {
  struct stat st;
  if (::fstat(tree, &st) != 0) return ErrnoStatus("stat idmapped " + mount.source);
  ASSIGN_OR_RETURN(UniqueFd dest, CreateInRoot(root_fd, mount.destination, S_ISDIR(st.st_mode)));
  RETURN_IF_ERROR(MoveMount(tree, dest.get(), absl::StrCat("idmapped ", mount.source, " on ",
                                                           mount.destination)));
  return FinishMount(tree, options, mount.destination);
}

// sysfs belongs to the network namespace: in a user namespace that does
// not own it, the kernel refuses a new instance, and the host's is bound.
absl::Status MountHostSysfs(int root_fd, const oci::Mount& mount, const MountOptions& options) {
  UniqueFd source(::open("/sys", O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!source) return ErrnoStatus("open /sys");
  ASSIGN_OR_RETURN(UniqueFd dest, CreateInRoot(root_fd, mount.destination, true));
  MountAttributes attributes = BindAttributes(options);
  attributes.recursive = true;
  ASSIGN_OR_RETURN(UniqueFd top, BindMount(source.get(), dest.get(), /*recursive=*/true,
                                           attributes, "bind the host's /sys on " +
                                                           mount.destination));
  return FinishMount(top.get(), options, mount.destination);
}

absl::Status MountOne(int root_fd, size_t index, const oci::Mount& mount,
                      const RootfsOptions& rootfs, CgroupBarrier& barrier) {
  ASSIGN_OR_RETURN(MountOptions options, ParseMountOptions(mount.options));
  if (mount.type == "cgroup" || mount.type == "cgroup2") {
    RETURN_IF_ERROR(barrier.Pass());
    return MountCgroups(root_fd, mount, options, rootfs);
  }
  if (auto idmapped = rootfs.idmapped_mounts.find(index); idmapped != rootfs.idmapped_mounts.end())
    return AttachIdmapped(root_fd, mount, options, idmapped->second);
  if (!mount.uid_mappings.empty())
    return absl::InternalError("idmapped mount of " + mount.destination + " was not prepared");
  bool bind = options.is_bind() || mount.type == "bind";
  UniqueFd dest;
  if (bind) {
    std::string source = mount.source;
    if (!source.empty() && source[0] != '/') source = absl::StrCat(rootfs.bundle, "/", source);
    // Pin the source once; the mount uses the pinned file, so renaming or
    // symlinking the path afterwards cannot change what is mounted.
    UniqueFd source_fd(::open(source.c_str(), O_PATH | O_CLOEXEC));
    if (!source_fd)
      return ErrnoStatus(absl::StrCat("open bind source ", source, " for ", mount.destination));
    struct stat st;
    if (::fstat(source_fd.get(), &st) != 0) return ErrnoStatus("stat " + source);
    ASSIGN_OR_RETURN(dest, CreateInRoot(root_fd, mount.destination, S_ISDIR(st.st_mode)));
    if (options.propagation & (MS_SHARED | MS_SLAVE)) {
      // A detached clone (open_tree) leaves the source's peer group, so
      // mounts would no longer travel between host and container. A bind
      // through the pinned fds joins it, as a Bidirectional volume needs.
      RETURN_IF_ERROR(Mount(FdPath(source_fd.get()), FdPath(dest.get()), nullptr,
                            MS_BIND | (options.flags & MS_REC), "",
                            absl::StrCat("bind ", source, " on ", mount.destination)));
      ASSIGN_OR_RETURN(UniqueFd top, OpenInRoot(root_fd, mount.destination, O_PATH));
      RETURN_IF_ERROR(SetMountAttributes(top.get(), BindAttributes(options),
                                         "flags of " + mount.destination));
      return FinishMount(top.get(), options, mount.destination);
    }
    ASSIGN_OR_RETURN(UniqueFd top,
                     BindMount(source_fd.get(), dest.get(), (options.flags & MS_REC) != 0,
                               BindAttributes(options),
                               absl::StrCat("bind ", source, " on ", mount.destination)));
    return FinishMount(top.get(), options, mount.destination);
  } else {
    ASSIGN_OR_RETURN(dest, CreateInRoot(root_fd, mount.destination, true));
    unsigned long flags = options.flags & ~(MS_BIND | MS_REC | MS_REMOUNT);
    absl::Status mounted =
        Mount(mount.source, FdPath(dest.get()), mount.type.c_str(), flags, options.data,
              absl::StrCat("mount ", mount.type, " on ", mount.destination));
    if (absl::IsPermissionDenied(mounted) && mount.type == "sysfs" && rootfs.in_user_namespace)
      return MountHostSysfs(root_fd, mount, options);
    RETURN_IF_ERROR(mounted);
  }
  // `dest` is the directory underneath; reopen to reach the new mount on top.
  ASSIGN_OR_RETURN(UniqueFd top, OpenInRoot(root_fd, mount.destination, O_PATH));
  return FinishMount(top.get(), options, mount.destination);
}

struct DefaultDevice {
  const char* name;
  unsigned major, minor;
};

constexpr DefaultDevice kDefaultDevices[] = {{"null", 1, 3},   {"zero", 1, 5},    {"full", 1, 7},
                                             {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0}};

std::string Dirname(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == 0 ? "/" : path.substr(0, slash);
}

std::string Basename(const std::string& path) { return path.substr(path.rfind('/') + 1); }

// The host's node for `device`, checked to be that device: a bind of
// whatever sits at the path would hand the container another file.
absl::StatusOr<UniqueFd> OpenHostDevice(const oci::Device& device) {
  UniqueFd fd(::open(device.path.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) return ErrnoStatus("open host device " + device.path);
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return ErrnoStatus("stat host device " + device.path);
  mode_t type = device.type == 'b' ? S_IFBLK : device.type == 'p' ? S_IFIFO : S_IFCHR;
  bool numbers_match =
      type == S_IFIFO || st.st_rdev == makedev(static_cast<unsigned>(device.major),
                                               static_cast<unsigned>(device.minor));
  if ((st.st_mode & S_IFMT) != type || !numbers_match) {
    return absl::FailedPreconditionError(
        absl::StrCat("host ", device.path, " is not the device ", device.major, ":", device.minor));
  }
  return fd;
}

absl::Status CreateDevice(int root_fd, const oci::Device& device, bool bind) {
  ASSIGN_OR_RETURN(UniqueFd parent, CreateInRoot(root_fd, Dirname(device.path), true));
  UniqueFd dir(::openat(parent.get(), ".", O_DIRECTORY | O_RDONLY | O_CLOEXEC));
  if (!dir) return ErrnoStatus("open " + Dirname(device.path));
  std::string name = Basename(device.path);
  if (bind) {
    UniqueFd file(
        ::openat(dir.get(), name.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!file && errno != EEXIST) return ErrnoStatus("create " + device.path);
    ASSIGN_OR_RETURN(UniqueFd target, OpenInRoot(root_fd, device.path, O_PATH));
    ASSIGN_OR_RETURN(UniqueFd source, OpenHostDevice(device));
    return BindMount(source.get(), target.get(), false, {}, "device " + device.path).status();
  }
  mode_t type = device.type == 'b' ? S_IFBLK : device.type == 'p' ? S_IFIFO : S_IFCHR;
  mode_t mode = device.file_mode.value_or(0666) & 07777;
  ::unlinkat(dir.get(), name.c_str(), 0);  // replace what the image had there
  if (::mknodat(
          dir.get(), name.c_str(), type | mode,
          makedev(static_cast<unsigned>(device.major), static_cast<unsigned>(device.minor))) != 0) {
    return ErrnoStatus("mknod " + device.path);
  }
  if (::fchownat(dir.get(), name.c_str(), device.uid.value_or(0), device.gid.value_or(0),
                 AT_SYMLINK_NOFOLLOW) != 0) {
    return ErrnoStatus("chown " + device.path);
  }
  return absl::OkStatus();
}

absl::Status CreateDevices(int root_fd, const oci::Spec& spec, const RootfsOptions& options) {
  bool dev_is_tmpfs = false;
  bool has_devpts = false;
  for (const oci::Mount& mount : spec.mounts) {
    if (mount.destination == "/dev" && mount.type == "tmpfs") dev_is_tmpfs = true;
    if (mount.destination == "/dev/pts") has_devpts = true;
  }
  if (dev_is_tmpfs) {
    for (const DefaultDevice& d : kDefaultDevices) {
      RETURN_IF_ERROR(CreateDevice(root_fd,
                                   {.path = absl::StrCat("/dev/", d.name),
                                    .type = 'c',
                                    .major = d.major,
                                    .minor = d.minor,
                                    .file_mode = 0666},
                                   options.in_user_namespace));
    }
    ASSIGN_OR_RETURN(UniqueFd dev_path, OpenInRoot(root_fd, "/dev", O_PATH | O_DIRECTORY));
    UniqueFd dev(::openat(dev_path.get(), ".", O_DIRECTORY | O_RDONLY | O_CLOEXEC));
    const std::pair<const char*, const char*> links[] = {{"/proc/self/fd", "fd"},
                                                         {"/proc/self/fd/0", "stdin"},
                                                         {"/proc/self/fd/1", "stdout"},
                                                         {"/proc/self/fd/2", "stderr"},
                                                         {"/proc/kcore", "core"}};
    for (const auto& [target, name] : links) {
      if (::symlinkat(target, dev.get(), name) != 0 && errno != EEXIST)
        return ErrnoStatus(absl::StrCat("symlink /dev/", name));
    }
    if (has_devpts) {
      ::unlinkat(dev.get(), "ptmx", 0);
      if (::symlinkat("pts/ptmx", dev.get(), "ptmx") != 0) return ErrnoStatus("symlink /dev/ptmx");
    }
  }
  for (const oci::Device& device : spec.linux.devices) {
    RETURN_IF_ERROR(CreateDevice(root_fd, device, options.in_user_namespace));
  }
  return absl::OkStatus();
}

// The mount point of the mount holding `path`, from mountinfo.
std::string MountPointOf(const std::string& path) {
  std::error_code error;
  std::string resolved = std::filesystem::canonical(path, error).string();
  if (error) resolved = path;
  std::ifstream mountinfo("/proc/self/mountinfo");
  std::string line, best = "/";
  while (std::getline(mountinfo, line)) {
    size_t at = 0;
    for (int field = 0; field < 4 && at != std::string::npos; ++field) at = line.find(' ', at + 1);
    if (at == std::string::npos) continue;
    size_t end = line.find(' ', at + 1);
    std::string point = line.substr(at + 1, end - at - 1);
    bool holds = resolved == point || absl::StartsWith(resolved, point + "/");
    if (holds && point.size() > best.size()) best = point;
  }
  return best;
}

// The propagation of "/" while the container's mounts are made: rslave by
// default (nothing leaks to the host), or what rootfsPropagation asks, so
// that bind mounts of shared host mounts join the host's peer groups and
// mounts made inside reach the host (kubelet's Bidirectional volumes).
absl::Status SetInitialPropagation(const oci::Spec& spec) {
  unsigned long flags = MS_SLAVE | MS_REC;
  if (!spec.linux.rootfs_propagation.empty()) {
    ASSIGN_OR_RETURN(MountOptions parsed, ParseMountOptions({spec.linux.rootfs_propagation}));
    if (parsed.propagation != 0) flags = parsed.propagation;
  }
  RETURN_IF_ERROR(Mount("", "/", nullptr, flags, "", "set the propagation of /"));
  if (flags & MS_SHARED) {
    // pivot_root refuses a new root whose parent mount is shared; a private
    // parent also keeps the rootfs bind below from propagating anywhere.
    std::string parent = MountPointOf(spec.root.path);
    RETURN_IF_ERROR(
        Mount("", parent, nullptr, MS_PRIVATE, "", "make the rootfs's parent mount private"));
  }
  return absl::OkStatus();
}

absl::Status PivotRoot(int root_fd) {
  // pivot_root(".", ".") stacks the old root on top of the new one; unmounting
  // "." then drops the old root without needing a directory to park it in.
  // Held by fd: after the pivot, mount(2) resolves "." to the new root,
  // not to the old one stacked on it, and making the new root's tree
  // rslave would cut shared volumes off from the host.
  UniqueFd old_root(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!old_root) return ErrnoStatus("open the old root");
  if (::fchdir(root_fd) != 0) return ErrnoStatus("chdir into rootfs");
  if (::syscall(SYS_pivot_root, ".", ".") != 0) return ErrnoStatus("pivot_root");
  // Keep the old root's unmount from propagating back to the host.
  RETURN_IF_ERROR(SetMountAttributes(old_root.get(), {.propagation = MS_SLAVE, .recursive = true},
                                     "the old root"));
  if (::umount2(".", MNT_DETACH) != 0) return ErrnoStatus("detach old root");
  if (::chdir("/") != 0) return ErrnoStatus("chdir /");
  return absl::OkStatus();
}

absl::StatusOr<UniqueFd> OpenHostDevNull() {
  UniqueFd fd(::open("/dev/null", O_PATH | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) return ErrnoStatus("open /dev/null");
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return ErrnoStatus("stat /dev/null");
  if (!S_ISCHR(st.st_mode) || st.st_rdev != makedev(1, 3))
    return absl::FailedPreconditionError("/dev/null is not the null device (1:3)");
  return fd;
}

// The mask is bound from the verified /dev/null (files) or is an empty
// read-only tmpfs (directories), onto the target opened inside the root.
absl::Status MaskPath(int root_fd, const std::string& path, int dev_null) {
  absl::StatusOr<UniqueFd> target = OpenInRoot(root_fd, path, O_PATH);
  if (absl::IsNotFound(target.status())) return absl::OkStatus();
  RETURN_IF_ERROR(target.status());
  struct stat st;
  if (::fstat(target->get(), &st) != 0) return ErrnoStatus("stat masked path " + path);
  if (S_ISDIR(st.st_mode)) {
    ASSIGN_OR_RETURN(UniqueFd empty, NewDetachedMount("tmpfs", {},
                                                      MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID |
                                                          MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC));
    return MoveMount(empty.get(), target->get(), "mask " + path);
  }
  return BindMount(dev_null, target->get(), false, {}, "mask " + path).status();
}

absl::Status ReadonlyPath(int root_fd, const std::string& path) {
  absl::StatusOr<UniqueFd> target = OpenInRoot(root_fd, path, O_PATH);
  if (absl::IsNotFound(target.status())) return absl::OkStatus();
  RETURN_IF_ERROR(target.status());
  return BindMount(
             target->get(), target->get(), true,
             {.set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC},
             "read-only " + path)
      .status();
}

absl::Status ProtectPaths(int root_fd, const oci::Spec& spec) {
  if (spec.linux.masked_paths.empty() && spec.linux.readonly_paths.empty()) return absl::OkStatus();
  ASSIGN_OR_RETURN(UniqueFd dev_null, OpenHostDevNull());
  for (const std::string& path : spec.linux.masked_paths)
    RETURN_IF_ERROR(MaskPath(root_fd, path, dev_null.get()));
  for (const std::string& path : spec.linux.readonly_paths)
    RETURN_IF_ERROR(ReadonlyPath(root_fd, path));
  return absl::OkStatus();
}

}  // namespace

absl::Status PrepareRootfs(const oci::Spec& spec, const RootfsOptions& options) {
  if (spec.FindNamespace("mount") == nullptr) {
    // The host's mount namespace: mounting anything would change the host.
    if (!spec.mounts.empty() || !spec.linux.masked_paths.empty() ||
        !spec.linux.readonly_paths.empty()) {
      std::fprintf(stderr,
                   "berth-runtime: warning: no mount namespace: mounts, masked and read-only "
                   "paths are not applied\n");
    }
    CgroupBarrier barrier(options);
    RETURN_IF_ERROR(barrier.Pass());
    if (options.before_pivot) RETURN_IF_ERROR(options.before_pivot());
    if (::chroot(spec.root.path.c_str()) != 0) return ErrnoStatus("chroot " + spec.root.path);
    if (::chdir("/") != 0) return ErrnoStatus("chdir /");
    return absl::OkStatus();
  }
  // Nothing mounted from here on may leak to the host, and nothing the host
  // mounts later should appear in the container, unless the spec asks.
  RETURN_IF_ERROR(SetInitialPropagation(spec));
  // pivot_root needs the new root to be a mount point.
  RETURN_IF_ERROR(Mount(spec.root.path, spec.root.path, nullptr, MS_BIND | MS_REC, "",
                        "bind rootfs " + spec.root.path));
  UniqueFd root_fd(::open(spec.root.path.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root_fd) return ErrnoStatus("open rootfs " + spec.root.path);

  CgroupBarrier barrier(options);
  for (size_t index = 0; index < spec.mounts.size(); ++index) {
    RETURN_IF_ERROR(MountOne(root_fd.get(), index, spec.mounts[index], options, barrier));
  }
  // Devices only once the parent has put us in our cgroup with its device
  // rules complete: on v1 they are written one by one after a deny-all, and
  // a mknod racing those writes would fail with EPERM.
  RETURN_IF_ERROR(barrier.Pass());
  RETURN_IF_ERROR(CreateDevices(root_fd.get(), spec, options));
  // A working directory the image lacks is made (root-owned, 0755), as
  // runc does: kubelet's workingDir need not exist in the image.
  if (spec.process.has_value() && !spec.process->cwd.empty() &&
      absl::IsNotFound(OpenInRoot(root_fd.get(), spec.process->cwd, O_PATH).status())) {
    RETURN_IF_ERROR(CreateInRoot(root_fd.get(), spec.process->cwd, /*directory=*/true).status());
  }
  if (options.before_pivot) RETURN_IF_ERROR(options.before_pivot());
  RETURN_IF_ERROR(ProtectPaths(root_fd.get(), spec));
  RETURN_IF_ERROR(PivotRoot(root_fd.get()));
  root_fd.Reset(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root_fd) return ErrnoStatus("open / after pivot_root");

  std::string propagation = spec.linux.rootfs_propagation;
  if (!propagation.empty()) {
    ASSIGN_OR_RETURN(MountOptions parsed, ParseMountOptions({propagation}));
    RETURN_IF_ERROR(SetMountAttributes(root_fd.get(),
                                       {.propagation = parsed.propagation & ~MS_REC,
                                        .recursive = (parsed.propagation & MS_REC) != 0},
                                       "root propagation " + propagation));
  }
  if (spec.root.readonly) {
    RETURN_IF_ERROR(SetMountAttributes(root_fd.get(), {.set = MOUNT_ATTR_RDONLY}, "read-only /"));
  }
  return absl::OkStatus();
}

}  // namespace berth
