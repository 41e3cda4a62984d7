#include "runtime/cgroups/cgroup_files.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "runtime/base/atomic_file.h"
#include "runtime/base/errno_status.h"
#include "runtime/base/unique_fd.h"

namespace berth::cgroups {

absl::Status WriteControl(const std::string& dir, const std::string& file,
                          const std::string& value) {
  std::string path = absl::StrCat(dir, "/", file);
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC));
  if (!fd) return ErrnoStatus("open " + path);
  if (::write(fd.get(), value.data(), value.size()) < 0) {
    return ErrnoStatus(absl::StrCat("write \"", value, "\" to ", path));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadControl(const std::string& dir, const std::string& file) {
  return ReadFileToString(absl::StrCat(dir, "/", file));
}

absl::StatusOr<std::vector<pid_t>> ReadProcs(const std::string& dir) {
  absl::StatusOr<std::string> text = ReadControl(dir, "cgroup.procs");
  if (!text.ok()) return text.status();
  std::vector<pid_t> pids;
  for (absl::string_view line : absl::StrSplit(*text, '\n', absl::SkipEmpty())) {
    pid_t pid;
    if (absl::SimpleAtoi(line, &pid)) pids.push_back(pid);
  }
  return pids;
}

absl::StatusOr<uint64_t> ReadKeyedValue(const std::string& dir, const std::string& file,
                                        const std::string& key) {
  absl::StatusOr<std::string> text = ReadControl(dir, file);
  if (!text.ok()) return text.status();
  for (absl::string_view line : absl::StrSplit(*text, '\n', absl::SkipEmpty())) {
    std::vector<absl::string_view> fields = absl::StrSplit(line, ' ');
    uint64_t value;
    if (fields.size() == 2 && fields[0] == key && absl::SimpleAtoi(fields[1], &value)) return value;
  }
  return absl::NotFoundError(absl::StrCat(dir, "/", file, " has no ", key));
}

absl::Status RemoveCgroupDir(const std::string& dir) {
  for (int attempt = 0;; ++attempt) {
    if (::rmdir(dir.c_str()) == 0 || errno == ENOENT) return absl::OkStatus();
    if (errno != EBUSY || attempt == 50) return ErrnoStatus("remove cgroup " + dir);
    absl::SleepFor(absl::Milliseconds(2));
  }
}

}  // namespace berth::cgroups
