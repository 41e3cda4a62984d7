#include "runtime/base/call_in_child.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <string>

#include "absl/strings/str_cat.h"
#include "runtime/base/child_process.h"
#include "runtime/base/errno_status.h"
#include "runtime/base/unique_fd.h"

namespace berth {
namespace {

void WriteAll(int fd, const std::string& data) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    done += static_cast<size_t>(n);
  }
}

}  // namespace

absl::Status CallInChild(const std::function<absl::Status()>& work) {
  int ends[2];
  if (::pipe2(ends, O_CLOEXEC) != 0) return ErrnoStatus("pipe2");
  UniqueFd read_end(ends[0]), write_end(ends[1]);
  pid_t child = ::fork();
  if (child < 0) return ErrnoStatus("fork");
  if (child == 0) {
    read_end.Reset();
    absl::Status status = work();
    // The answer: the code as one byte, then the message.
    WriteAll(write_end.get(),
             std::string(1, static_cast<char>(status.code())) + std::string(status.message()));
    ::_exit(0);
  }
  write_end.Reset();
  std::string answer;
  char buffer[4096];
  for (;;) {
    ssize_t n = ::read(read_end.get(), buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    answer.append(buffer, static_cast<size_t>(n));
  }
  int wait_status = 0;
  while (::waitpid(child, &wait_status, 0) < 0 && errno == EINTR) {
  }
  if (answer.empty()) {
    return absl::InternalError(absl::StrCat("child ", child, " ended without an answer (",
                                            ExitStatus::FromWaitStatus(wait_status).ToString(),
                                            ")"));
  }
  auto code = static_cast<absl::StatusCode>(static_cast<unsigned char>(answer[0]));
  return absl::Status(code, answer.substr(1));
}

}  // namespace berth
