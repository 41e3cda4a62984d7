// berth-runtime against attacks published on runc and crun, each run for
// real from a hostile rootfs. Every test here fails when its defence is
// taken out.

#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "runtime/base/atomic_file.h"
#include "tests/e2e/runtime_fixture.h"

namespace berth::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

// The attack's outcome, once it has one.
std::string AwaitResult(const std::string& rootfs) {
  std::string path = rootfs + "/record/result";
  absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (absl::Now() < deadline) {
    absl::StatusOr<std::string> text = ReadFileToString(path);
    if (text.ok() && !text->empty()) {
      // The attack exits after reporting; as a subreaper this test adopted it
      // and must reap it, or the container's init cannot finish dying.
      absl::SleepFor(absl::Milliseconds(50));
      while (::waitpid(-1, nullptr, WNOHANG) > 0) {
      }
      return *text;
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  return "no result";
}

class ExeOverwriteTest : public RuntimeTest {
 protected:
  void SetUp() override {
    RuntimeTest::SetUp();
    if (IsSkipped()) return;
    binary_ = CopyOf(BERTH_RUNTIME_PATH);
    original_ = *ReadFileToString(binary_);
    UseRuntimeBinary(binary_);
    rootfs_ = ExeAttackRootfs();
  }

  nlohmann::json AttackConfig(const std::vector<std::string>& args) {
    nlohmann::json config = Config(args);
    config["root"] = {{"path", rootfs_}, {"readonly", false}};
    return config;
  }

  void ExpectBinaryIntact(const std::string& result) {
    RecordProperty("outcome", result);
    EXPECT_THAT(result, StartsWith("denied")) << "the attack could open the binary for writing";
    EXPECT_TRUE(*ReadFileToString(binary_) == original_) << "berth-runtime was overwritten";
  }

  std::string binary_, original_, rootfs_;
};

// CVE-2019-5736 as published: the entrypoint is /proc/self/exe, so the init
// execs the runtime's own binary inside the container, and the image's ELF
// interpreter gets to run with /proc/self/exe pointing at it.
TEST_F(ExeOverwriteTest, ProcSelfExeEntrypointCannotOverwriteTheRuntime) {
  RunResult r =
      Runtime({"run", "--detach", "--bundle", Bundle(AttackConfig({"/proc/self/exe"})), NewId()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ExpectBinaryIntact(AwaitResult(rootfs_));
}

TEST_F(ExeOverwriteTest, TheMemfdFallbackHoldsToo) {
  SpawnOptions memfd{.env = std::vector<std::string>{"BERTH_SEALED_BINARY=memfd", "PATH=/bin"}};
  RunResult r = Runtime(
      {"run", "--detach", "--bundle", Bundle(AttackConfig({"/proc/self/exe"})), NewId()}, memfd);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ExpectBinaryIntact(AwaitResult(rootfs_));
}

// The same from `exec`: the exec'd process is ours until its program runs.
TEST_F(ExeOverwriteTest, ExecOfProcSelfExeCannotOverwriteTheRuntime) {
  std::string id = NewId();
  RunResult r = Runtime({"run", "--detach", "--bundle", Bundle(AttackConfig({"sleep", "60"})), id});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  RunResult exec = Runtime({"exec", "--detach", id, "/proc/self/exe"});
  ASSERT_EQ(exec.exit_code, 0) << exec.err;
  ExpectBinaryIntact(AwaitResult(rootfs_));
}

}  // namespace
}  // namespace berth::testing
