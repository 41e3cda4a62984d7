// berthctl: berth's own CRI client, for what crictl does not cover.
//
//   berthctl [--socket PATH] version
//   berthctl [--socket PATH] info
//   berthctl [--socket PATH] images [import|export|tag ...]
//   berthctl [--socket PATH] pull IMAGE
//   berthctl [--socket PATH] pods | ps [-a] | inspect ID | logs [-f] ID

#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>

#include "cri/berthctl/fail.h"
#include "cri/berthctl/image_commands.h"
#include "cri/berthctl/json_output.h"
#include "cri/berthctl/workload_commands.h"
#include "cri/client/cri_client.h"
#include "nlohmann/json.hpp"

namespace berth::cri {
namespace {

constexpr char kUsage[] = R"(BERTHCTL(8)

NAME
    berthctl - berth's own client for berthd

SYNOPSIS
    berthctl [--socket PATH] COMMAND [ARGS]
    berthctl --help

DESCRIPTION
    Talks CRI (and berth's own image API) to berthd, for what operators
    reach for on a node; crictl works too.

COMMANDS
    version           runtime name and versions
    info              conditions, the effective config with the files it
                      came from and what set each key, as JSON
    images            list images; images import|export|tag
                      (berthctl images --help)
    pull IMAGE        pull an image with per-layer progress
    pods              list pod sandboxes (crictl pods' columns)
    ps [-a]           list running containers; -a: all (crictl ps' columns)
    inspect ID        a container's or pod's status and berthd's details,
                      as JSON
    logs [-f] ID      print a container's log; -f: follow it until the
                      container exits
    IDs may be abbreviated to a unique prefix.

OPTIONS
    --socket PATH     berthd's socket (unix:// optional); default
                      $CONTAINER_RUNTIME_ENDPOINT, then /run/berth/berth.sock

EXIT STATUS
    0 on success; 1 when the call fails (the reason on stderr); 2 for bad
    usage.

SEE ALSO
    berthd(8), crictl(1)
)";

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
  nlohmann::ordered_json out;
  out["status"] = MessageJson(status->status());
  AddInfoJson(status->info(), out);
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
