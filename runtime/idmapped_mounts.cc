#include "runtime/idmapped_mounts.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

#include "absl/strings/str_cat.h"
#include "runtime/base/errno_status.h"
#include "runtime/base/status_macros.h"
#include "runtime/mount_fd.h"
#include "runtime/mount_options.h"
#include "runtime/procfs.h"

namespace berth {
namespace {

// The child that owns a new user namespace until the namespace is opened;
// ends it (end-of-file on its socket) and reaps it however we return.
class NamespaceOwner {
 public:
  NamespaceOwner(pid_t pid, UniqueFd socket) : pid_(pid), socket_(std::move(socket)) {}
  ~NamespaceOwner() {
    socket_.Reset();
    int status;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
  }
  pid_t pid() const { return pid_; }
  int socket() const { return socket_.get(); }

 private:
  pid_t pid_;
  UniqueFd socket_;
};

}  // namespace

std::string IdMapText(const std::vector<oci::IdMapping>& mappings) {
  std::string text;
  for (const oci::IdMapping& m : mappings)
    absl::StrAppend(&text, m.container_id, " ", m.host_id, " ", m.size, "\n");
  return text;
}

absl::StatusOr<UniqueFd> NewUserNamespace(const std::vector<oci::IdMapping>& uids,
                                          const std::vector<oci::IdMapping>& gids) {
  if (uids.empty() || gids.empty())
    return absl::InvalidArgumentError("a user namespace needs uid and gid mappings");
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0)
    return ErrnoStatus("socketpair");
  UniqueFd ours(pair[0]), theirs(pair[1]);
  pid_t pid = ::fork();
  if (pid < 0) return ErrnoStatus("fork the owner of a user namespace");
  if (pid == 0) {
    ours.Reset();
    char byte = ::unshare(CLONE_NEWUSER) == 0 ? 1 : 0;
    if (::write(theirs.get(), &byte, 1) != 1 || byte == 0) _exit(1);
    while (::read(theirs.get(), &byte, 1) < 0 && errno == EINTR) {
    }
    _exit(0);
  }
  theirs.Reset();
  NamespaceOwner owner(pid, std::move(ours));
  char byte = 0;
  ssize_t n;
  while ((n = ::read(owner.socket(), &byte, 1)) < 0 && errno == EINTR) {
  }
  if (n != 1 || byte != 1)
    return absl::InternalError("the child could not unshare a user namespace");
  ASSIGN_OR_RETURN(ProcFs proc, ProcFs::Open());
  RETURN_IF_ERROR(proc.Write(absl::StrCat(pid, "/uid_map"), IdMapText(uids)));
  RETURN_IF_ERROR(proc.Write(absl::StrCat(pid, "/gid_map"), IdMapText(gids)));
  std::string path = absl::StrCat("/proc/", pid, "/ns/user");
  UniqueFd ns(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!ns) return ErrnoStatus("open " + path);
  return ns;
}

absl::StatusOr<std::map<size_t, UniqueFd>> PrepareIdmappedMounts(const oci::Spec& spec,
                                                                 const std::string& bundle) {
  std::map<size_t, UniqueFd> prepared;
  std::map<std::string, UniqueFd> namespaces;  // by their maps' text
  for (size_t index = 0; index < spec.mounts.size(); ++index) {
    const oci::Mount& mount = spec.mounts[index];
    if (mount.uid_mappings.empty()) continue;
    std::string key = IdMapText(mount.uid_mappings) + "/" + IdMapText(mount.gid_mappings);
    auto ns = namespaces.find(key);
    if (ns == namespaces.end()) {
      ASSIGN_OR_RETURN(UniqueFd fd, NewUserNamespace(mount.uid_mappings, mount.gid_mappings));
      ns = namespaces.emplace(key, std::move(fd)).first;
    }
    ASSIGN_OR_RETURN(MountOptions options, ParseMountOptions(mount.options));
    std::string source = mount.source;
    if (!source.empty() && source[0] != '/') source = absl::StrCat(bundle, "/", source);
    UniqueFd source_fd(::open(source.c_str(), O_PATH | O_CLOEXEC));
    if (!source_fd)
      return ErrnoStatus(absl::StrCat("open bind source ", source, " for ", mount.destination));
    bool recursive = (options.flags & MS_REC) != 0;
    std::string what = absl::StrCat(source, " for ", mount.destination);
    ASSIGN_OR_RETURN(UniqueFd tree, CloneMount(source_fd.get(), recursive, what));
    RETURN_IF_ERROR(IdmapMount(tree.get(), ns->second.get(), recursive, what));
    // The init cannot change a mount the host's namespace owns: it gets the
    // bind's flags from us.
    MountAttributes flags =
        AttributesFromFlags(options.flags & ~(MS_BIND | MS_REC | MS_REMOUNT), options.clear_flags);
    RETURN_IF_ERROR(SetMountAttributes(tree.get(), flags, what));
    prepared.emplace(index, std::move(tree));
  }
  return prepared;
}

}  // namespace berth
