#include "cri/container/image_user.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <optional>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "runtime/base/errno_status.h"
#include "runtime/base/path_in_root.h"
#include "runtime/base/status_macros.h"
#include "runtime/base/unique_fd.h"

namespace berth::cri {
namespace {

// Larger files are not user databases; reading them would only cost memory.
constexpr size_t kMaxDatabaseBytes = 4 << 20;

absl::StatusOr<std::string> ReadInRoot(int root_fd, const std::string& path) {
  absl::StatusOr<UniqueFd> fd = OpenInRoot(root_fd, path, O_RDONLY | O_CLOEXEC);
  if (absl::IsNotFound(fd.status())) return std::string();
  RETURN_IF_ERROR(fd.status());
  std::string text;
  char buffer[8192];
  for (;;) {
    ssize_t n = ::read(fd->get(), buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus("read the image's " + path);
    if (n == 0) break;
    text.append(buffer, static_cast<size_t>(n));
    if (text.size() > kMaxDatabaseBytes)
      return absl::InvalidArgumentError(absl::StrCat("the image's ", path, " is over ",
                                                     kMaxDatabaseBytes, " bytes"));
  }
  return text;
}

struct PasswdEntry {
  std::string name;
  uint32_t uid = 0, gid = 0;
};

struct GroupEntry {
  std::string name;
  uint32_t gid = 0;
  std::vector<std::string> members;
};

std::vector<PasswdEntry> ParsePasswd(const std::string& text) {
  std::vector<PasswdEntry> entries;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    std::vector<absl::string_view> fields = absl::StrSplit(line, ':');
    PasswdEntry entry;
    if (fields.size() < 4 || fields[0].empty() || !absl::SimpleAtoi(fields[2], &entry.uid) ||
        !absl::SimpleAtoi(fields[3], &entry.gid))
      continue;
    entry.name = std::string(fields[0]);
    entries.push_back(entry);
  }
  return entries;
}

std::vector<GroupEntry> ParseGroup(const std::string& text) {
  std::vector<GroupEntry> entries;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    std::vector<absl::string_view> fields = absl::StrSplit(line, ':');
    GroupEntry entry;
    if (fields.size() < 3 || fields[0].empty() || !absl::SimpleAtoi(fields[2], &entry.gid))
      continue;
    entry.name = std::string(fields[0]);
    if (fields.size() > 3)
      for (absl::string_view member : absl::StrSplit(fields[3], ',', absl::SkipEmpty()))
        entry.members.emplace_back(member);
    entries.push_back(std::move(entry));
  }
  return entries;
}

std::optional<PasswdEntry> UserByName(const std::vector<PasswdEntry>& users,
                                      absl::string_view name) {
  for (const PasswdEntry& user : users)
    if (user.name == name) return user;
  return std::nullopt;
}

std::optional<PasswdEntry> UserById(const std::vector<PasswdEntry>& users, uint32_t uid) {
  for (const PasswdEntry& user : users)
    if (user.uid == uid) return user;
  return std::nullopt;
}

void AddGroup(ProcessUser& user, uint32_t gid) {
  if (gid == user.gid) return;
  if (std::find(user.additional_gids.begin(), user.additional_gids.end(), gid) ==
      user.additional_gids.end())
    user.additional_gids.push_back(gid);
}

}  // namespace

absl::StatusOr<UserDatabase> ReadUserDatabase(const std::string& rootfs) {
  UniqueFd root(::open(rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root.valid()) return ErrnoStatus("open rootfs " + rootfs);
  UserDatabase database;
  ASSIGN_OR_RETURN(database.passwd, ReadInRoot(root.get(), "/etc/passwd"));
  ASSIGN_OR_RETURN(database.group, ReadInRoot(root.get(), "/etc/group"));
  return database;
}

absl::StatusOr<ProcessUser> ResolveProcessUser(
    const runtime::v1::LinuxContainerSecurityContext& security, const std::string& image_user,
    const UserDatabase& database) {
  std::vector<PasswdEntry> users = ParsePasswd(database.passwd);
  std::vector<GroupEntry> groups = ParseGroup(database.group);
  ProcessUser resolved;
  std::string username;  // whose /etc/group memberships count

  if (security.has_run_as_group() && !security.has_run_as_user() &&
      security.run_as_username().empty()) {
    return absl::InvalidArgumentError(
        "run_as_group is set without run_as_user or run_as_username");
  }
  if (security.has_run_as_user()) {
    int64_t uid = security.run_as_user().value();
    if (uid < 0 || uid > UINT32_MAX)
      return absl::InvalidArgumentError(absl::StrCat("run_as_user ", uid, " is out of range"));
    resolved.uid = static_cast<uint32_t>(uid);
    if (std::optional<PasswdEntry> user = UserById(users, resolved.uid)) {
      resolved.gid = user->gid;
      username = user->name;
    }
  } else if (!security.run_as_username().empty()) {
    std::optional<PasswdEntry> user = UserByName(users, security.run_as_username());
    if (!user) {
      return absl::InvalidArgumentError(absl::StrCat(
          "run_as_username \"", security.run_as_username(), "\" is not in the image's /etc/passwd"));
    }
    resolved.uid = user->uid;
    resolved.gid = user->gid;
    username = user->name;
  } else if (!image_user.empty()) {
    std::vector<std::string> parts = absl::StrSplit(image_user, absl::MaxSplits(':', 1));
    const std::string& who = parts[0];
    if (absl::SimpleAtoi(who, &resolved.uid)) {
      if (std::optional<PasswdEntry> user = UserById(users, resolved.uid)) {
        resolved.gid = user->gid;
        username = user->name;
      }
    } else {
      std::optional<PasswdEntry> user = UserByName(users, who);
      if (!user) {
        return absl::InvalidArgumentError(
            absl::StrCat("the image's user \"", who, "\" is not in its /etc/passwd"));
      }
      resolved.uid = user->uid;
      resolved.gid = user->gid;
      username = user->name;
    }
    if (parts.size() > 1 && !parts[1].empty()) {
      if (!absl::SimpleAtoi(parts[1], &resolved.gid)) {
        auto group = std::find_if(groups.begin(), groups.end(),
                                  [&](const GroupEntry& g) { return g.name == parts[1]; });
        if (group == groups.end()) {
          return absl::InvalidArgumentError(
              absl::StrCat("the image's group \"", parts[1], "\" is not in its /etc/group"));
        }
        resolved.gid = group->gid;
      }
    }
  } else if (std::optional<PasswdEntry> root = UserById(users, 0)) {
    username = root->name;
  }
  if (security.has_run_as_group()) {
    int64_t gid = security.run_as_group().value();
    if (gid < 0 || gid > UINT32_MAX)
      return absl::InvalidArgumentError(absl::StrCat("run_as_group ", gid, " is out of range"));
    resolved.gid = static_cast<uint32_t>(gid);
  }

  if (security.supplemental_groups_policy() != runtime::v1::Strict && !username.empty()) {
    for (const GroupEntry& group : groups) {
      if (std::find(group.members.begin(), group.members.end(), username) != group.members.end())
        AddGroup(resolved, group.gid);
    }
  }
  for (int64_t gid : security.supplemental_groups()) {
    if (gid < 0 || gid > UINT32_MAX)
      return absl::InvalidArgumentError(
          absl::StrCat("supplemental group ", gid, " is out of range"));
    AddGroup(resolved, static_cast<uint32_t>(gid));
  }
  return resolved;
}

}  // namespace berth::cri
