#include "cri/berthctl/workload_commands.h"

#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <iostream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "cri/berthctl/fail.h"
#include "cri/berthctl/json_output.h"
#include "nlohmann/json.hpp"

namespace berth::cri {
namespace {

using Stub = runtime::v1::RuntimeService::Stub;

std::string ShortId(const std::string& id) { return id.substr(0, 13); }

// "3 seconds ago", "About a minute ago", "2 hours ago", as crictl says it.
std::string Ago(int64_t created_ns) {
  absl::Duration age = absl::Now() - absl::FromUnixNanos(created_ns);
  int64_t seconds = absl::ToInt64Seconds(age);
  if (seconds < 1) return "Less than a second ago";
  if (seconds < 60) return absl::StrCat(seconds, " seconds ago");
  int64_t minutes = seconds / 60;
  if (minutes == 1) return "About a minute ago";
  if (minutes < 60) return absl::StrCat(minutes, " minutes ago");
  int64_t hours = minutes / 60;
  if (hours == 1) return "About an hour ago";
  if (hours < 48) return absl::StrCat(hours, " hours ago");
  return absl::StrCat(hours / 24, " days ago");
}

std::string Label(const google::protobuf::Map<std::string, std::string>& labels,
                  const std::string& key) {
  auto it = labels.find(key);
  return it == labels.end() ? "unknown" : it->second;
}

std::string StateName(runtime::v1::PodSandboxState state) {
  return state == runtime::v1::SANDBOX_READY ? "Ready" : "NotReady";
}

std::string StateName(runtime::v1::ContainerState state) {
  switch (state) {
    case runtime::v1::CONTAINER_CREATED:
      return "Created";
    case runtime::v1::CONTAINER_RUNNING:
      return "Running";
    case runtime::v1::CONTAINER_EXITED:
      return "Exited";
    default:
      return "Unknown";
  }
}

void PrintRows(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths;
  for (const auto& row : rows)
    for (size_t i = 0; i < row.size(); ++i) {
      if (widths.size() <= i) widths.push_back(0);
      widths[i] = std::max(widths[i], row[i].size());
    }
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(widths[i] - row[i].size() + 3, ' ');
    }
    std::cout << line << "\n";
  }
}

// The one full id `prefix` names among containers, then pods.
struct Resolved {
  std::string id;
  bool pod = false;
};
absl::StatusOr<Resolved> Resolve(CriClient& client, const std::string& prefix) {
  std::vector<Resolved> found;
  absl::StatusOr<runtime::v1::ListContainersResponse> containers =
      client.Call(&Stub::ListContainers, runtime::v1::ListContainersRequest());
  if (!containers.ok()) return containers.status();
  for (const runtime::v1::Container& c : containers->containers())
    if (absl::StartsWith(c.id(), prefix)) found.push_back({c.id(), false});
  absl::StatusOr<runtime::v1::ListPodSandboxResponse> pods =
      client.Call(&Stub::ListPodSandbox, runtime::v1::ListPodSandboxRequest());
  if (!pods.ok()) return pods.status();
  for (const runtime::v1::PodSandbox& p : pods->items())
    if (absl::StartsWith(p.id(), prefix)) found.push_back({p.id(), true});
  if (found.empty()) return absl::NotFoundError(absl::StrCat("no container or pod ", prefix));
  if (found.size() > 1 || prefix.empty())
    return absl::InvalidArgumentError(absl::StrCat("\"", prefix, "\" names more than one"));
  return found[0];
}

template <typename Response>
int PrintStatus(const absl::StatusOr<Response>& response) {
  if (!response.ok()) return Fail(response.status());
  nlohmann::ordered_json out;
  out["status"] = MessageJson(response->status());
  out["info"] = nlohmann::ordered_json::object();
  AddInfoJson(response->info(), out["info"]);
  std::cout << out.dump(2) << "\n";
  return 0;
}

// A CRI log line: "<RFC 3339 time> <stdout|stderr> <F|P> <text>". Partial
// lines (P) are joined with what follows, as crictl prints them.
void PrintLogLine(const std::string& line) {
  size_t first = line.find(' ');
  size_t second = first == std::string::npos ? first : line.find(' ', first + 1);
  size_t third = second == std::string::npos ? second : line.find(' ', second + 1);
  if (third == std::string::npos) return;
  std::string stream = line.substr(first + 1, second - first - 1);
  bool partial = line.substr(second + 1, third - second - 1) == "P";
  std::ostream& out = stream == "stderr" ? std::cerr : std::cout;
  out << line.substr(third + 1) << (partial ? "" : "\n");
  out.flush();
}

}  // namespace

int PodsCommand(CriClient& client, const std::vector<std::string>& args) {
  if (!args.empty()) return Fail(absl::InvalidArgumentError("usage: berthctl pods"));
  absl::StatusOr<runtime::v1::ListPodSandboxResponse> pods =
      client.Call(&Stub::ListPodSandbox, runtime::v1::ListPodSandboxRequest());
  if (!pods.ok()) return Fail(pods.status());
  std::vector<std::vector<std::string>> rows = {
      {"POD ID", "CREATED", "STATE", "NAME", "NAMESPACE", "ATTEMPT", "RUNTIME"}};
  for (const runtime::v1::PodSandbox& pod : pods->items()) {
    rows.push_back({ShortId(pod.id()), Ago(pod.created_at()), StateName(pod.state()),
                    pod.metadata().name(), pod.metadata().namespace_(),
                    std::to_string(pod.metadata().attempt()),
                    pod.runtime_handler().empty() ? "(default)" : pod.runtime_handler()});
  }
  PrintRows(rows);
  return 0;
}

int PsCommand(CriClient& client, const std::vector<std::string>& args) {
  bool all = false;
  for (const std::string& arg : args) {
    if (arg != "-a" && arg != "--all")
      return Fail(absl::InvalidArgumentError("usage: berthctl ps [-a]"));
    all = true;
  }
  runtime::v1::ListContainersRequest request;
  if (!all) request.mutable_filter()->mutable_state()->set_state(runtime::v1::CONTAINER_RUNNING);
  absl::StatusOr<runtime::v1::ListContainersResponse> containers =
      client.Call(&Stub::ListContainers, request);
  if (!containers.ok()) return Fail(containers.status());
  std::vector<std::vector<std::string>> rows = {
      {"CONTAINER", "IMAGE", "CREATED", "STATE", "NAME", "ATTEMPT", "POD ID", "POD", "NAMESPACE"}};
  for (const runtime::v1::Container& c : containers->containers()) {
    rows.push_back({ShortId(c.id()), c.image().image(), Ago(c.created_at()), StateName(c.state()),
                    c.metadata().name(), std::to_string(c.metadata().attempt()),
                    ShortId(c.pod_sandbox_id()), Label(c.labels(), "io.kubernetes.pod.name"),
                    Label(c.labels(), "io.kubernetes.pod.namespace")});
  }
  PrintRows(rows);
  return 0;
}

int InspectCommand(CriClient& client, const std::vector<std::string>& args) {
  if (args.size() != 1) return Fail(absl::InvalidArgumentError("usage: berthctl inspect ID"));
  absl::StatusOr<Resolved> target = Resolve(client, args[0]);
  if (!target.ok()) return Fail(target.status());
  if (target->pod) {
    runtime::v1::PodSandboxStatusRequest request;
    request.set_pod_sandbox_id(target->id);
    request.set_verbose(true);
    return PrintStatus(client.Call(&Stub::PodSandboxStatus, request));
  }
  runtime::v1::ContainerStatusRequest request;
  request.set_container_id(target->id);
  request.set_verbose(true);
  return PrintStatus(client.Call(&Stub::ContainerStatus, request));
}

int LogsCommand(CriClient& client, const std::vector<std::string>& args) {
  bool follow = false;
  std::string id;
  for (const std::string& arg : args) {
    if (arg == "-f" || arg == "--follow") {
      follow = true;
    } else if (id.empty() && arg[0] != '-') {
      id = arg;
    } else {
      return Fail(absl::InvalidArgumentError("usage: berthctl logs [-f] CONTAINER"));
    }
  }
  if (id.empty()) return Fail(absl::InvalidArgumentError("usage: berthctl logs [-f] CONTAINER"));
  absl::StatusOr<Resolved> target = Resolve(client, id);
  if (!target.ok()) return Fail(target.status());
  if (target->pod) return Fail(absl::InvalidArgumentError(id + " is a pod; logs are containers'"));
  runtime::v1::ContainerStatusRequest request;
  request.set_container_id(target->id);
  absl::StatusOr<runtime::v1::ContainerStatusResponse> status =
      client.Call(&Stub::ContainerStatus, request);
  if (!status.ok()) return Fail(status.status());
  const std::string& path = status->status().log_path();
  if (path.empty()) return Fail(absl::FailedPreconditionError("the container has no log path"));
  std::ifstream log(path);
  if (!log) return Fail(absl::NotFoundError("cannot open " + path));
  std::string line;
  for (;;) {
    while (std::getline(log, line)) {
      if (log.eof()) {  // a line still being written: read it again whole
        log.clear();
        log.seekg(-static_cast<std::streamoff>(line.size()), std::ios::cur);
        break;
      }
      PrintLogLine(line);
    }
    if (!follow) return 0;
    log.clear();
    // Until the container has exited and everything it wrote is printed.
    absl::StatusOr<runtime::v1::ContainerStatusResponse> now =
        client.Call(&Stub::ContainerStatus, request);
    if (!now.ok() || now->status().state() == runtime::v1::CONTAINER_EXITED) {
      while (std::getline(log, line)) PrintLogLine(line);
      return 0;
    }
    ::usleep(200'000);
  }
}

}  // namespace berth::cri
