#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runtime/base/atomic_file.h"
#include "runtime/base/call_in_child.h"
#include "runtime/base/child_process.h"
#include "runtime/base/errno_status.h"
#include "runtime/base/file_lock.h"
#include "runtime/base/status_macros.h"
#include "runtime/base/unique_fd.h"
#include "runtime/base/unix_socket.h"
#include "tests/unit/temp_dir.h"

namespace berth {
namespace {

using ::testing::HasSubstr;
using testing::TempDir;

TEST(ErrnoStatusTest, CodeFollowsErrnoAndMessageNamesIt) {
  absl::Status status = berth::ErrnoToStatus(ENOENT, "open /nope");
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(status.message(), "open /nope: ENOENT (No such file or directory)");
  EXPECT_EQ(berth::ErrnoToStatus(EEXIST, "x").code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(berth::ErrnoToStatus(EPERM, "x").code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(berth::ErrnoToStatus(EINVAL, "x").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(berth::ErrnoToStatus(EIO, "x").code(), absl::StatusCode::kInternal);
}

absl::StatusOr<int> Half(int n) {
  if (n % 2 != 0) return absl::InvalidArgumentError("odd");
  return n / 2;
}

absl::StatusOr<int> Quarter(int n) {
  ASSIGN_OR_RETURN(int half, Half(n));
  ASSIGN_OR_RETURN(int quarter, Half(half));
  return quarter;
}

absl::Status CheckEven(int n) {
  RETURN_IF_ERROR(Half(n));
  return absl::OkStatus();
}

TEST(StatusMacrosTest, PropagateErrorsAndValues) {
  EXPECT_EQ(*Quarter(8), 2);
  EXPECT_EQ(Quarter(6).status().message(), "odd");
  EXPECT_TRUE(CheckEven(4).ok());
  EXPECT_EQ(CheckEven(3).code(), absl::StatusCode::kInvalidArgument);
}

TEST(UniqueFdTest, ClosesOnDestructionAndMove) {
  int raw = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(raw, 0);
  {
    UniqueFd fd(raw);
    UniqueFd moved = std::move(fd);
    EXPECT_FALSE(fd.valid());
    EXPECT_EQ(moved.get(), raw);
  }
  EXPECT_EQ(::fcntl(raw, F_GETFD), -1);
  EXPECT_EQ(errno, EBADF);
}

TEST(AtomicFileTest, ReplacesContentsAndLeavesNoTemporary) {
  TempDir dir;
  std::string path = dir.Join("state.json");
  ASSERT_TRUE(WriteFileAtomically(path, "one", 0600).ok());
  ASSERT_TRUE(WriteFileAtomically(path, "two").ok());
  EXPECT_EQ(*ReadFileToString(path), "two");
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0644u);
  int entries = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    (void)entry;
    ++entries;
  }
  EXPECT_EQ(entries, 1);
}

TEST(AtomicFileTest, FailureNamesThePath) {
  absl::Status status = WriteFileAtomically("/nonexistent-dir/x", "y");
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(status.message()), HasSubstr("/nonexistent-dir/x"));
}

TEST(AtomicFileTest, MakeDirectoriesCreatesParentsAndRejectsFiles) {
  TempDir dir;
  ASSERT_TRUE(MakeDirectories(dir.Join("a/b/c"), 0711).ok());
  EXPECT_TRUE(std::filesystem::is_directory(dir.Join("a/b/c")));
  EXPECT_TRUE(MakeDirectories(dir.Join("a/b/c"), 0711).ok());
  ASSERT_TRUE(WriteFileAtomically(dir.Join("file"), "").ok());
  EXPECT_FALSE(MakeDirectories(dir.Join("file"), 0711).ok());
}

TEST(FileLockTest, SecondHolderIsRefusedWithThePid) {
  TempDir dir;
  std::string path = dir.Join("lock");
  absl::StatusOr<FileLock> first = FileLock::TryAcquire(path);
  ASSERT_TRUE(first.ok()) << first.status();
  absl::StatusOr<FileLock> second = FileLock::TryAcquire(path);
  ASSERT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(second.status().message()),
              HasSubstr("(pid " + std::to_string(::getpid()) + ")"));
}

TEST(FileLockTest, ReleasedWhenTheHolderGoesAway) {
  TempDir dir;
  std::string path = dir.Join("lock");
  { ASSERT_TRUE(FileLock::TryAcquire(path).ok()); }
  EXPECT_TRUE(FileLock::TryAcquire(path).ok());
}

TEST(CallInChildTest, ReturnsTheChildsStatusAndKeepsItsMemory) {
  int touched = 0;
  EXPECT_TRUE(CallInChild([&] {
                touched = 1;
                return absl::OkStatus();
              }).ok());
  EXPECT_EQ(touched, 0);  // the child's write stayed in the child
  absl::Status failed = CallInChild([] { return absl::NotFoundError("no such unit x.scope"); });
  EXPECT_EQ(failed.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(failed.message(), "no such unit x.scope");
}

TEST(CallInChildTest, AChildThatDiesIsAnError) {
  absl::Status died = CallInChild([]() -> absl::Status {
    ::raise(SIGKILL);
    return absl::OkStatus();
  });
  EXPECT_EQ(died.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(died.message(), ::testing::HasSubstr("killed by signal 9"));
}

TEST(ChildProcessTest, ReportsExitCodes) {
  absl::StatusOr<ChildProcess> child = ChildProcess::Spawn({"/bin/sh", "-c", "exit 7"});
  ASSERT_TRUE(child.ok()) << child.status();
  absl::StatusOr<ExitStatus> exit = child->Wait();
  ASSERT_TRUE(exit.ok());
  EXPECT_FALSE(exit->signaled);
  EXPECT_EQ(exit->exit_code, 7);
}

TEST(ChildProcessTest, ReportsSignalsAsShellCodes) {
  absl::StatusOr<ChildProcess> child = ChildProcess::Spawn({"/bin/sleep", "30"});
  ASSERT_TRUE(child.ok());
  ASSERT_TRUE(child->Signal(SIGTERM).ok());
  absl::StatusOr<ExitStatus> exit = child->Wait();
  ASSERT_TRUE(exit.ok());
  EXPECT_TRUE(exit->signaled);
  EXPECT_EQ(exit->ShellCode(), 128 + SIGTERM);
}

TEST(ChildProcessTest, WaitForTimesOutWhileRunning) {
  absl::StatusOr<ChildProcess> child = ChildProcess::Spawn({"/bin/sleep", "30"});
  ASSERT_TRUE(child.ok());
  EXPECT_EQ(child->WaitFor(absl::Milliseconds(50)).status().code(),
            absl::StatusCode::kDeadlineExceeded);
}

TEST(ChildProcessTest, DestructorKillsAndReapsTheChild) {
  pid_t pid;
  {
    absl::StatusOr<ChildProcess> child = ChildProcess::Spawn({"/bin/sleep", "30"});
    ASSERT_TRUE(child.ok());
    pid = child->pid();
  }
  // Reaped: the pid is no longer our child.
  EXPECT_EQ(::waitpid(pid, nullptr, WNOHANG), -1);
  EXPECT_EQ(errno, ECHILD);
}

TEST(ChildProcessTest, RedirectsOutputAndSetsEnvironment) {
  TempDir dir;
  std::string out = dir.Join("out");
  SpawnOptions options{.env = std::vector<std::string>{"GREETING=hello"}, .stdout_path = out};
  absl::StatusOr<ChildProcess> child =
      ChildProcess::Spawn({"/bin/sh", "-c", "echo $GREETING"}, options);
  ASSERT_TRUE(child.ok());
  ASSERT_TRUE(child->Wait().ok());
  EXPECT_EQ(*ReadFileToString(out), "hello\n");
}

TEST(ChildProcessTest, MissingBinaryFailsWithItsName) {
  absl::StatusOr<ChildProcess> child = ChildProcess::Spawn({"/nonexistent/binary"});
  ASSERT_FALSE(child.ok());
  EXPECT_EQ(child.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(child.status().message()), HasSubstr("/nonexistent/binary"));
}

TEST(UnixSocketTest, PathsLongerThanSunPathWork) {
  TempDir dir;
  std::string deep = dir.Join(std::string(60, 'd') + "/" + std::string(60, 'e'));
  ASSERT_TRUE(MakeDirectories(deep, 0755).ok());
  std::string path = deep + "/control.sock";
  ASSERT_GT(path.size(), 108u);
  absl::StatusOr<UniqueFd> listener = ListenUnix(path, SOCK_SEQPACKET, 1, 0600);
  ASSERT_TRUE(listener.ok()) << listener.status();
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0) << "the socket lives at its own path";
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  absl::StatusOr<UniqueFd> client = ConnectUnix(path, SOCK_SEQPACKET);
  ASSERT_TRUE(client.ok()) << client.status();
  EXPECT_EQ(ConnectUnix(deep + "/missing.sock", SOCK_SEQPACKET).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(ConnectUnix("", SOCK_STREAM).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace berth
