#pragma once

// A small runc-style argument parser: "--flag value", "--flag=value",
// "-f value", boolean switches, and positional arguments in any order.

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace berth::cli {

struct FlagSpec {
  std::string name;        // long name without dashes
  std::string short_name;  // one letter, or empty
  bool takes_value = false;
};

class Args {
 public:
  // Parses `argv` against `flags`. Unknown flags are an error naming them.
  // After `flag_positionals` positional arguments, the rest is taken as is:
  // `exec ID ls -l` passes "-l" to ls.
  static absl::StatusOr<Args> Parse(const std::vector<std::string>& argv,
                                    const std::vector<FlagSpec>& flags,
                                    size_t flag_positionals = SIZE_MAX);

  bool Has(const std::string& name) const { return values_.contains(name); }
  std::string Get(const std::string& name, const std::string& fallback = "") const;
  std::vector<std::string> GetAll(const std::string& name) const;
  const std::vector<std::string>& positional() const { return positional_; }

 private:
  std::multimap<std::string, std::string> values_;
  std::vector<std::string> positional_;
};

}  // namespace berth::cli
