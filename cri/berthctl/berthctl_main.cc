// berthctl: berth's own CRI client, for what crictl does not cover.
//
//   berthctl [--socket PATH] version
//   berthctl [--socket PATH] info
//   berthctl [--socket PATH] images [import|export|tag ...]
//   berthctl [--socket PATH] pull IMAGE
//   berthctl [--socket PATH] pods | ps [-a] | inspect ID | logs [-f] ID

#include <google/protobuf/util/json_util.h>

#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>

#include "cri/berthctl/fail.h"
#include "cri/berthctl/image_commands.h"
#include "cri/berthctl/workload_commands.h"
#include "cri/client/cri_client.h"
#include "nlohmann/json.hpp"

namespace berth::cri {
namespace {

constexpr char kUsage[] =
    "usage: berthctl [--socket PATH] COMMAND\n"
    "\n"
    "commands:\n"
    "  version   runtime name and versions\n"
    "  info      runtime conditions and the daemon's effective config, as JSON\n"
    "  images    list images; images import|export|tag (berthctl images --help)\n"
    "  pull      pull an image with per-layer progress\n"
    "  pods      list pod sandboxes (crictl pods' columns)\n"
    "  ps        list running containers; -a: all (crictl ps' columns)\n"
    "  inspect   a container's or pod's status and berthd's details, as JSON\n"
    "  logs      print a container's log; -f: follow it until the container exits\n"
    "\n"
    "IDs may be abbreviated to a unique prefix.\n"
    "\n"
    "The socket defaults to $CONTAINER_RUNTIME_ENDPOINT, then /run/berth/berth.sock.\n";

int Version(CriClient& client) {
  absl::StatusOr<runtime::v1::VersionResponse> version = client.Version();
  if (!version.ok()) return Fail(version.status());
  std::cout << "Version:  " << version->version() << "\n"
            << "RuntimeName:  " << version->runtime_name() << "\n"
            << "RuntimeVersion:  " << version->runtime_version() << "\n"
            << "RuntimeApiVersion:  " << version->runtime_api_version() << "\n";
  return 0;
}

int Info(CriClient& client) {
  absl::StatusOr<runtime::v1::StatusResponse> status = client.Status(/*verbose=*/true);
  if (!status.ok()) return Fail(status.status());
  std::string status_json;
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  google::protobuf::util::MessageToJsonString(status->status(), &status_json, options);
  nlohmann::ordered_json out;
  out["status"] = nlohmann::ordered_json::parse(status_json);
  for (const auto& [key, value] : status->info()) {
    nlohmann::ordered_json parsed = nlohmann::ordered_json::parse(value, nullptr, false);
    out[key] = parsed.is_discarded() ? nlohmann::ordered_json(value) : parsed;
  }
  std::cout << out.dump(2) << "\n";
  return 0;
}

int Main(int argc, char** argv) {
  const char* env_endpoint = std::getenv("CONTAINER_RUNTIME_ENDPOINT");
  std::string endpoint = env_endpoint != nullptr ? env_endpoint : "/run/berth/berth.sock";
  int arg = 1;
  for (; arg < argc && argv[arg][0] == '-'; ++arg) {
    std::string flag = argv[arg];
    if ((flag == "--socket" || flag == "-s") && arg + 1 < argc) {
      endpoint = argv[++arg];
    } else if (flag.rfind("--socket=", 0) == 0) {
      endpoint = flag.substr(std::strlen("--socket="));
    } else if (flag == "--help" || flag == "-h") {
      std::cout << kUsage;
      return 0;
    } else {
      std::cerr << "berthctl: unknown flag " << flag << "\n" << kUsage;
      return 2;
    }
  }
  if (arg >= argc) {
    std::cerr << kUsage;
    return 2;
  }
  std::string command = argv[arg];
  std::vector<std::string> args(argv + arg + 1, argv + argc);
  bool simple = command == "version" || command == "info";
  bool workload = command == "pods" || command == "ps" || command == "inspect" || command == "logs";
  if (!simple && !workload && command != "images" && command != "pull") {
    std::cerr << "berthctl: unknown command " << command << "\n" << kUsage;
    return 2;
  }
  if (simple && !args.empty()) {
    std::cerr << kUsage;
    return 2;
  }
  absl::StatusOr<CriClient> client = CriClient::Connect(endpoint);
  if (!client.ok()) return Fail(client.status());
  // Pulls and archives of big images take longer than the usual deadline.
  client->set_call_timeout(absl::Hours(2));
  if (command == "images") return ImagesCommand(*client, args);
  if (command == "pull") return PullCommand(*client, args);
  if (command == "pods") return PodsCommand(*client, args);
  if (command == "ps") return PsCommand(*client, args);
  if (command == "inspect") return InspectCommand(*client, args);
  if (command == "logs") return LogsCommand(*client, args);
  return command == "version" ? Version(*client) : Info(*client);
}

}  // namespace
}  // namespace berth::cri

int main(int argc, char** argv) { return berth::cri::Main(argc, argv); }
