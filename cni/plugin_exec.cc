#include "cni/plugin_exec.h"

#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "nlohmann/json.hpp"
#include "runtime/base/errno_status.h"
#include "runtime/base/status_macros.h"
#include "runtime/base/unique_fd.h"

extern char** environ;

namespace berth::cni {
namespace {

constexpr char kDefaultPath[] = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
// Enough of a plugin's stderr to explain a failure in one status message.
constexpr size_t kStderrTail = 2048;

// A memory file: the plugin's stdin (written up front, so a plugin that
// does not read it cannot block us) or its stdout/stderr (never full, so a
// chatty plugin cannot block on a pipe we are not yet reading).
absl::StatusOr<UniqueFd> MemoryFile(const char* name, const std::string& contents) {
  UniqueFd fd(::memfd_create(name, MFD_CLOEXEC));
  if (!fd) return ErrnoStatus(absl::StrCat("memfd_create ", name));
  size_t written = 0;
  while (written < contents.size()) {
    ssize_t n = ::write(fd.get(), contents.data() + written, contents.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(absl::StrCat("write ", name));
    }
    written += static_cast<size_t>(n);
  }
  if (::lseek(fd.get(), 0, SEEK_SET) != 0) return ErrnoStatus(absl::StrCat("seek ", name));
  return fd;
}

absl::StatusOr<std::string> ReadMemoryFile(int fd, const char* name) {
  std::string out;
  char buffer[8192];
  for (off_t offset = 0;;) {
    ssize_t n = ::pread(fd, buffer, sizeof(buffer), offset);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(absl::StrCat("read ", name));
    }
    if (n == 0) return out;
    out.append(buffer, static_cast<size_t>(n));
    offset += n;
  }
}

// The error object of SPEC.md section 5, when `text` is one.
bool ParseErrorObject(const std::string& text, int64_t& code, std::string& msg,
                      std::string& details) {
  nlohmann::json doc = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) return false;
  auto code_it = doc.find("code");
  if (code_it == doc.end() || !code_it->is_number_integer()) return false;
  code = code_it->get<int64_t>();
  auto msg_it = doc.find("msg");
  msg = msg_it != doc.end() && msg_it->is_string() ? msg_it->get<std::string>() : "";
  auto details_it = doc.find("details");
  details =
      details_it != doc.end() && details_it->is_string() ? details_it->get<std::string>() : "";
  return true;
}

// SPEC.md's reserved codes, as the closest Status codes.
absl::StatusCode CodeForCniError(int64_t code) {
  switch (code) {
    case 1:  // incompatible CNI version
    case 2:  // unsupported field
    case 7:  // invalid network config
      return absl::StatusCode::kFailedPrecondition;
    case 3:  // container unknown
      return absl::StatusCode::kNotFound;
    case 4:  // invalid environment variables
    case 6:  // failed to decode content
      return absl::StatusCode::kInvalidArgument;
    case 11:  // try again later
    case 50:  // plugin not available
    case 51:
      return absl::StatusCode::kUnavailable;
    default:
      return absl::StatusCode::kUnknown;
  }
}

}  // namespace

std::vector<std::string> PluginEnvironment(const PluginCall& call,
                                           const std::vector<std::string>& bin_dirs,
                                           const std::vector<std::string>& base) {
  std::vector<std::string> env;
  bool has_path = false;
  for (const std::string& entry : base) {
    if (absl::StartsWith(entry, "CNI_")) continue;
    if (absl::StartsWith(entry, "PATH=")) has_path = true;
    env.push_back(entry);
  }
  if (!has_path) env.push_back(kDefaultPath);
  env.push_back("CNI_COMMAND=" + call.command);
  env.push_back("CNI_CONTAINERID=" + call.container_id);
  env.push_back("CNI_NETNS=" + call.netns);
  env.push_back("CNI_IFNAME=" + call.ifname);
  env.push_back("CNI_ARGS=" + call.cni_args);
  env.push_back("CNI_PATH=" + absl::StrJoin(bin_dirs, ":"));
  return env;
}

absl::Status PluginFailure(const std::string& type, const std::string& command,
                           const ExitStatus& exit, const std::string& stdout_text,
                           const std::string& stderr_text) {
  std::string prefix = absl::StrCat("CNI plugin \"", type, "\" ", command, " failed");
  int64_t code = 0;
  std::string msg, details;
  if (ParseErrorObject(stdout_text, code, msg, details) ||
      ParseErrorObject(stderr_text, code, msg, details)) {
    std::string message = absl::StrCat(prefix, " with code ", code, ": ", msg);
    if (!details.empty()) absl::StrAppend(&message, " (", details, ")");
    return absl::Status(CodeForCniError(code), message);
  }
  absl::string_view said = absl::StripAsciiWhitespace(stderr_text);
  if (said.empty()) said = absl::StripAsciiWhitespace(stdout_text);
  if (said.size() > kStderrTail) said = said.substr(said.size() - kStderrTail);
  std::string message = absl::StrCat(prefix, " (", exit.ToString(), ")");
  if (!said.empty()) absl::StrAppend(&message, ": ", said);
  return absl::UnknownError(message);
}

absl::StatusOr<std::string> PluginExecutor::Find(const std::string& type) const {
  for (const std::string& dir : bin_dirs_) {
    std::string path = absl::StrCat(dir, "/", type);
    struct stat st;
    if (::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        ::access(path.c_str(), X_OK) == 0) {
      return path;
    }
  }
  return absl::NotFoundError(
      absl::StrCat("CNI plugin \"", type, "\" not found in ", absl::StrJoin(bin_dirs_, ":")));
}

absl::StatusOr<std::string> PluginExecutor::Run(const std::string& type, const PluginCall& call,
                                                const std::string& stdin_config) const {
  absl::Time started = absl::Now();
  absl::StatusOr<std::string> result = RunUnobserved(type, call, stdin_config);
  if (observer_) observer_(type, call.command, result.ok(), absl::Now() - started);
  return result;
}

absl::StatusOr<std::string> PluginExecutor::RunUnobserved(const std::string& type,
                                                          const PluginCall& call,
                                                          const std::string& stdin_config) const {
  ASSIGN_OR_RETURN(std::string path, Find(type));
  ASSIGN_OR_RETURN(UniqueFd in, MemoryFile("cni-stdin", stdin_config));
  ASSIGN_OR_RETURN(UniqueFd out, MemoryFile("cni-stdout", ""));
  ASSIGN_OR_RETURN(UniqueFd err, MemoryFile("cni-stderr", ""));

  std::vector<std::string> base;
  for (char** entry = environ; *entry != nullptr; ++entry) base.emplace_back(*entry);
  SpawnOptions options;
  options.env = PluginEnvironment(call, bin_dirs_, base);
  options.stdin_fd = in.get();
  options.extra_fds = {{out.get(), STDOUT_FILENO}, {err.get(), STDERR_FILENO}};
  // Its own process group, so a timeout kills what it started too (bridge
  // runs host-local, a script runs sleep).
  options.new_session = true;
  absl::StatusOr<ChildProcess> child = ChildProcess::Spawn({path}, options);
  if (!child.ok()) {
    return absl::Status(
        child.status().code(),
        absl::StrCat("CNI plugin \"", type, "\" ", call.command, ": ", child.status().message()));
  }
  absl::StatusOr<ExitStatus> exit = child->WaitFor(timeout_);
  if (!exit.ok()) {
    if (!absl::IsDeadlineExceeded(exit.status())) return exit.status();
    ::kill(-child->pid(), SIGKILL);
    return absl::DeadlineExceededError(absl::StrCat(
        "CNI plugin \"", type, "\" ", call.command, " for container ", call.container_id,
        " still running after ", absl::FormatDuration(timeout_), "; killed"));
  }
  ASSIGN_OR_RETURN(std::string stdout_text, ReadMemoryFile(out.get(), "cni-stdout"));
  ASSIGN_OR_RETURN(std::string stderr_text, ReadMemoryFile(err.get(), "cni-stderr"));
  if (exit->signaled || exit->exit_code != 0) {
    return PluginFailure(type, call.command, *exit, stdout_text, stderr_text);
  }
  return stdout_text;
}

}  // namespace berth::cni
