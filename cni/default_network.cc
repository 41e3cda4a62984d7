#include "cni/default_network.h"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace berth::cni {
namespace {

std::string StatText(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return absl::StrCat("errno ", errno);
  return absl::StrCat(st.st_ino, ":", st.st_size, ":", st.st_mtim.tv_sec, ".", st.st_mtim.tv_nsec);
}

}  // namespace

std::string DefaultNetwork::Fingerprint() const {
  std::string fingerprint = StatText(conf_dir_);
  DIR* dir = ::opendir(conf_dir_.c_str());
  if (dir == nullptr) return fingerprint;
  std::vector<std::string> names;
  while (struct dirent* entry = ::readdir(dir)) {
    if (IsNetworkConfigFileName(entry->d_name)) names.emplace_back(entry->d_name);
  }
  ::closedir(dir);
  std::sort(names.begin(), names.end());
  // A file edited in place leaves the directory's mtime alone.
  for (const std::string& name : names) {
    absl::StrAppend(&fingerprint, "|", name, "=", StatText(absl::StrCat(conf_dir_, "/", name)));
  }
  return fingerprint;
}

absl::StatusOr<NetworkList> DefaultNetwork::Load() const {
  std::vector<std::string> skipped;
  absl::StatusOr<std::vector<NetworkConfigFile>> files =
      LoadNetworkConfigFiles(conf_dir_, &skipped);
  if (!files.ok()) return absl::FailedPreconditionError(files.status().message());
  if (files->empty()) {
    std::string message = absl::StrCat("no valid CNI network config in ", conf_dir_);
    if (!skipped.empty())
      absl::StrAppend(&message, " (skipped: ", absl::StrJoin(skipped, "; "), ")");
    return absl::FailedPreconditionError(message);
  }
  return std::move(files->front().network);
}

absl::StatusOr<NetworkList> DefaultNetwork::Get() {
  std::string fingerprint = Fingerprint();
  absl::MutexLock lock(&mu_);
  if (!loaded_ || fingerprint != fingerprint_) {
    current_ = Load();
    fingerprint_ = std::move(fingerprint);
    loaded_ = true;
  }
  return current_;
}

}  // namespace berth::cni
