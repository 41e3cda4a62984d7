#pragma once

// Builds layer tarballs in memory for tests, including the malformed and
// hostile ones no real image builder would write.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace berth::testing {

class TarBuilder {
 public:
  enum class Compression { kNone, kGzip, kZstd };

  struct Entry {
    std::string name;
    char type = '0';  // '0' file, '5' dir, '2' symlink, '1' hard link, '3' char, '6' fifo
    std::string data;
    std::string link;  // symlink target or hard link target
    unsigned mode = 0644;
    int64_t uid = 0;
    int64_t gid = 0;
    int64_t mtime = 1700000000;
    unsigned dev_major = 0;
    unsigned dev_minor = 0;
    std::map<std::string, std::string> xattrs;
  };

  TarBuilder& Add(Entry entry);
  TarBuilder& File(const std::string& name, const std::string& data, unsigned mode = 0644);
  TarBuilder& Dir(const std::string& name, unsigned mode = 0755);
  TarBuilder& Symlink(const std::string& name, const std::string& target);
  TarBuilder& HardLink(const std::string& name, const std::string& target);

  // The archive (pax format), compressed as asked.
  std::string Build(Compression compression = Compression::kNone) const;

 private:
  std::vector<Entry> entries_;
};

}  // namespace berth::testing
