// update: change a running container's resource limits, with runc's flags.

#include <unistd.h>

#include <cctype>
#include <iostream>
#include <iterator>
#include <limits>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "runtime/base/atomic_file.h"
#include "runtime/base/status_macros.h"
#include "runtime/cli/args.h"
#include "runtime/cli/commands.h"
#include "runtime/oci/spec_parse.h"

namespace berth::cli {
namespace {

const std::vector<FlagSpec> kUpdateFlags = {
    {"resources", "r", true},    {"memory", "", true},        {"memory-reservation", "", true},
    {"memory-swap", "", true},   {"kernel-memory", "", true}, {"cpu-shares", "", true},
    {"cpu-share", "", true},  // runc's spelling
    {"cpu-quota", "", true},     {"cpu-period", "", true},    {"cpu-rt-runtime", "", true},
    {"cpu-rt-period", "", true}, {"cpuset-cpus", "", true},   {"cpuset-mems", "", true},
    {"pids-limit", "", true},    {"blkio-weight", "", true},  {"l3-cache-schema", "", true},
    {"mem-bw-schema", "", true}};

// "64m", "64MB", "1g", "-1" (unlimited) or plain bytes.
absl::StatusOr<int64_t> ParseBytes(const std::string& flag, const std::string& input) {
  std::string text = absl::AsciiStrToLower(input);
  if (text.size() > 1 && text.back() == 'b' &&
      std::isalpha(static_cast<unsigned char>(text[text.size() - 2]))) {
    text.pop_back();  // "64mb" -> "64m"
  }
  int64_t multiplier = 1;
  if (!text.empty() && std::isalpha(static_cast<unsigned char>(text.back()))) {
    switch (text.back()) {
      case 'b':
        multiplier = 1;
        break;
      case 'k':
        multiplier = int64_t{1} << 10;
        break;
      case 'm':
        multiplier = int64_t{1} << 20;
        break;
      case 'g':
        multiplier = int64_t{1} << 30;
        break;
      case 't':
        multiplier = int64_t{1} << 40;
        break;
      default:
        return absl::InvalidArgumentError(
            absl::StrCat("--", flag, ": unknown unit in \"", input, "\""));
    }
    text.pop_back();
  }
  int64_t value;
  if (!absl::SimpleAtoi(text, &value)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", flag, " must be a size, got \"", input, "\""));
  }
  return value < 0 ? value : value * multiplier;
}

template <typename T>
absl::Status SetNumber(const Args& args, const std::string& flag, std::optional<T>& field) {
  if (!args.Has(flag)) return absl::OkStatus();
  // SimpleAtoi takes 32- and 64-bit types only; narrower fields go through int64.
  int64_t value;
  if (!absl::SimpleAtoi(args.Get(flag), &value) || value < std::numeric_limits<T>::min() ||
      (value > 0 &&
       static_cast<uint64_t>(value) > static_cast<uint64_t>(std::numeric_limits<T>::max()))) {
    return absl::InvalidArgumentError(absl::StrCat("--", flag, " must be a number in range"));
  }
  field = static_cast<T>(value);
  return absl::OkStatus();
}

absl::Status SetBytes(const Args& args, const std::string& flag, std::optional<int64_t>& field) {
  if (!args.Has(flag)) return absl::OkStatus();
  ASSIGN_OR_RETURN(field, ParseBytes(flag, args.Get(flag)));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<int> UpdateCommand(const RuntimeOptions& runtime,
                                  const std::vector<std::string>& argv) {
  ASSIGN_OR_RETURN(Args args, Args::Parse(argv, kUpdateFlags));
  if (args.positional().size() != 1)
    return absl::InvalidArgumentError("update: expects exactly one container id");
  for (const char* unsupported : {"l3-cache-schema", "mem-bw-schema"}) {
    if (args.Has(unsupported))
      return absl::UnimplementedError(
          absl::StrCat("--", unsupported, ": Intel RDT is not supported"));
  }
  oci::Resources resources;
  if (args.Has("resources")) {
    std::string path = args.Get("resources");
    std::string text;
    if (path == "-") {
      text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    } else {
      ASSIGN_OR_RETURN(text, ReadFileToString(path));
    }
    ASSIGN_OR_RETURN(resources, oci::ParseResourcesJson(text));
  }
  RETURN_IF_ERROR(SetBytes(args, "memory", resources.memory.limit));
  RETURN_IF_ERROR(SetBytes(args, "memory-reservation", resources.memory.reservation));
  RETURN_IF_ERROR(SetBytes(args, "memory-swap", resources.memory.swap));
  RETURN_IF_ERROR(SetNumber(args, "cpu-shares", resources.cpu.shares));
  RETURN_IF_ERROR(SetNumber(args, "cpu-share", resources.cpu.shares));
  RETURN_IF_ERROR(SetNumber(args, "cpu-quota", resources.cpu.quota));
  RETURN_IF_ERROR(SetNumber(args, "cpu-period", resources.cpu.period));
  RETURN_IF_ERROR(SetNumber(args, "cpu-rt-runtime", resources.cpu.realtime_runtime));
  RETURN_IF_ERROR(SetNumber(args, "cpu-rt-period", resources.cpu.realtime_period));
  if (args.Has("cpuset-cpus")) resources.cpu.cpus = args.Get("cpuset-cpus");
  if (args.Has("cpuset-mems")) resources.cpu.mems = args.Get("cpuset-mems");
  std::optional<int64_t> pids;
  RETURN_IF_ERROR(SetNumber(args, "pids-limit", pids));
  if (pids) resources.pids_limit = pids;
  RETURN_IF_ERROR(SetNumber(args, "blkio-weight", resources.block_io.weight));
  RETURN_IF_ERROR(UpdateContainerResources(runtime, args.positional()[0], resources));
  return 0;
}

}  // namespace berth::cli
