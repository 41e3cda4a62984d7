#include "runtime/cli/args.h"

#include "absl/strings/str_cat.h"

namespace berth::cli {

absl::StatusOr<Args> Args::Parse(const std::vector<std::string>& argv,
                                 const std::vector<FlagSpec>& flags, size_t flag_positionals) {
  Args args;
  bool only_positional = false;
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& arg = argv[i];
    if (only_positional || arg.size() < 2 || arg[0] != '-') {
      args.positional_.push_back(arg);
      if (args.positional_.size() >= flag_positionals) only_positional = true;
      continue;
    }
    if (arg == "--") {
      only_positional = true;
      continue;
    }
    std::string name = arg.substr(arg[1] == '-' ? 2 : 1);
    std::optional<std::string> inline_value;
    if (size_t eq = name.find('='); eq != std::string::npos) {
      inline_value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    const FlagSpec* spec = nullptr;
    for (const FlagSpec& flag : flags) {
      if (flag.name == name || (!flag.short_name.empty() && flag.short_name == name)) spec = &flag;
    }
    if (spec == nullptr) return absl::InvalidArgumentError(absl::StrCat("unknown flag ", arg));
    std::string value = "true";
    if (spec->takes_value) {
      if (inline_value.has_value()) {
        value = *inline_value;
      } else if (i + 1 < argv.size()) {
        value = argv[++i];
      } else {
        return absl::InvalidArgumentError(absl::StrCat("flag ", arg, " needs a value"));
      }
    } else if (inline_value.has_value()) {
      value = *inline_value;
    }
    args.values_.emplace(spec->name, value);
  }
  return args;
}

std::string Args::Get(const std::string& name, const std::string& fallback) const {
  auto range = values_.equal_range(name);
  if (range.first == range.second) return fallback;
  return std::prev(range.second)->second;  // the last one wins
}

std::vector<std::string> Args::GetAll(const std::string& name) const {
  std::vector<std::string> all;
  auto range = values_.equal_range(name);
  for (auto it = range.first; it != range.second; ++it) all.push_back(it->second);
  return all;
}

}  // namespace berth::cli
