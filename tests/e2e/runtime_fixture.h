#pragma once

// Runs berth-runtime for real against bundles built on a busybox-static
// rootfs, in a temporary state root. Needs root; tests skip otherwise.

#include <unistd.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "runtime/base/child_process.h"
#include "tests/unit/temp_dir.h"

namespace berth::testing {

struct RunResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

class RuntimeTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // A fresh config (from `berth-runtime spec`) for a bundle whose rootfs is
  // the shared busybox one; `args` is the process to run.
  nlohmann::json Config(const std::vector<std::string>& args);
  // Writes `config` into a new bundle and returns its directory.
  std::string Bundle(const nlohmann::json& config);
  // A unique container id for this test.
  std::string NewId();

  // Runs berth-runtime with `args` (global flags first), waiting for it.
  RunResult Runtime(const std::vector<std::string>& args, const SpawnOptions& extra = {});
  // `run` of a bundle: the container's stdout/stderr and exit code.
  RunResult Run(const nlohmann::json& config, const std::vector<std::string>& flags = {},
                const SpawnOptions& extra = {});

  // Runs `binary` instead of the build's berth-runtime (or $BERTH_E2E_RUNTIME) from now on.
  void UseRuntimeBinary(std::string binary) { runtime_binary_ = std::move(binary); }
  // A rootfs for the CVE-2019-5736 attack (exe_overwrite_attack.cc): the
  // attack as /attack and as the ELF interpreter every dynamic binary of
  // ours asks for, busybox for sleep, and /record for the outcome, bound
  // from `record_dir`.
  std::string ExeAttackRootfs();
  // A copy of `binary` in the test's directory, for an attack to aim at.
  std::string CopyOf(const std::string& binary);

  std::string root() const { return state_root_; }
  const TempDir& dir() const { return dir_; }
  static std::string Rootfs();

 private:
  TempDir dir_;
  std::string state_root_;
  std::vector<std::string> ids_;
  int counter_ = 0;
  std::string runtime_binary_ = BERTH_RUNTIME_PATH;
};

}  // namespace berth::testing
