#pragma once

// hack/registry and hack/test-images from C++ tests: a docker-registry on a
// loopback port, stopped (by the PIDs it recorded) when the object goes.

#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "nlohmann/json.hpp"
#include "runtime/base/atomic_file.h"
#include "runtime/base/child_process.h"
#include "tests/unit/temp_dir.h"

namespace berth::testing {

// Runs a hack/ script and waits; the error carries its output.
inline absl::Status RunHack(std::vector<std::string> argv, const std::string& log) {
  argv[0] = absl::StrCat(BERTH_SOURCE_DIR, "/hack/", argv[0]);
  absl::StatusOr<ChildProcess> child =
      ChildProcess::Spawn(argv, {.stdout_path = log, .stderr_path = log});
  if (!child.ok()) return child.status();
  absl::StatusOr<ExitStatus> exit = child->Wait();
  if (!exit.ok()) return exit.status();
  if (exit->ShellCode() != 0) {
    return absl::InternalError(
        absl::StrCat(absl::StrJoin(argv, " "), " failed: ", ReadFileToString(log).value_or("")));
  }
  return absl::OkStatus();
}

class LocalRegistry {
 public:
  explicit LocalRegistry(std::string dir) : dir_(std::move(dir)) {}
  ~LocalRegistry() { Stop().IgnoreError(); }

  absl::Status Start(std::vector<std::string> options = {}) {
    std::vector<std::string> argv = {"registry", "start", "--dir", dir_};
    argv.insert(argv.end(), options.begin(), options.end());
    absl::Status status = RunHack(argv, dir_ + ".start.log");
    if (!status.ok()) return status;
    std::ifstream in(dir_ + "/registry.env");
    for (std::string line; std::getline(in, line);) {
      size_t eq = line.find('=');
      if (eq != std::string::npos) env_[line.substr(0, eq)] = line.substr(eq + 1);
    }
    return absl::OkStatus();
  }

  absl::Status Stop() { return RunHack({"registry", "stop", "--dir", dir_}, dir_ + ".stop.log"); }

  // Pushes every image hack/test-images built into `images`.
  absl::Status Push(const std::string& images) {
    std::vector<std::string> argv = {"test-images", "push", images, host()};
    if (Env("SCHEME") == "http") argv.push_back("--plain-http");
    if (!Env("CA").empty()) argv.insert(argv.end(), {"--ca", Env("CA")});
    if (!Env("USER").empty()) argv.insert(argv.end(), {"--user", Env("USER") + ":" + Env("PASS")});
    return RunHack(argv, dir_ + ".push.log");
  }

  absl::Status Corrupt(const std::string& digest) {
    return RunHack({"registry", "corrupt", "--dir", dir_, digest}, dir_ + ".corrupt.log");
  }

  std::string Env(const std::string& key) const {
    auto it = env_.find(key);
    return it == env_.end() ? "" : it->second;
  }
  std::string host() const { return Env("HOST"); }
  std::string Log() const { return ReadFileToString(dir_ + "/registry.log").value_or(""); }
  // Requests in the access log whose request line contains `fragment`.
  int CountRequests(const std::string& fragment) const {
    std::string log = Log();
    int count = 0;
    std::string needle = "\"GET " + fragment;
    for (size_t at = 0; (at = log.find(needle, at)) != std::string::npos; at += needle.size()) {
      ++count;
    }
    return count;
  }

 private:
  std::string dir_;
  std::map<std::string, std::string> env_;
};

// The images hack/test-images builds, with what images.json says of them.
class TestImages {
 public:
  absl::Status Build(const std::string& dir) {
    dir_ = dir;
    absl::Status status = RunHack({"test-images", "build", dir}, dir + ".log");
    if (!status.ok()) return status;
    absl::StatusOr<std::string> text = ReadFileToString(dir + "/images.json");
    if (!text.ok()) return text.status();
    doc_ = nlohmann::json::parse(*text);
    return absl::OkStatus();
  }

  // The images.json entry of name:tag.
  const nlohmann::json& Image(const std::string& name, const std::string& tag) const {
    for (const nlohmann::json& image : doc_["images"]) {
      if (image["name"] != name) continue;
      for (const nlohmann::json& t : image["tags"]) {
        if (t == tag) return image;
      }
    }
    static const nlohmann::json none;
    return none;
  }
  const std::string& dir() const { return dir_; }
  const nlohmann::json& doc() const { return doc_; }

 private:
  std::string dir_;
  nlohmann::json doc_;
};

}  // namespace berth::testing
