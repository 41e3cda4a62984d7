#include "tests/support/tar_builder.h"

#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>

#include <stdexcept>

namespace berth::testing {
namespace {

la_ssize_t Append(archive*, void* client, const void* buffer, size_t length) {
  static_cast<std::string*>(client)->append(static_cast<const char*>(buffer), length);
  return static_cast<la_ssize_t>(length);
}

}  // namespace

TarBuilder& TarBuilder::Add(Entry entry) {
  entries_.push_back(std::move(entry));
  return *this;
}

TarBuilder& TarBuilder::File(const std::string& name, const std::string& data, unsigned mode) {
  return Add({.name = name, .type = '0', .data = data, .mode = mode});
}

TarBuilder& TarBuilder::Dir(const std::string& name, unsigned mode) {
  return Add({.name = name, .type = '5', .mode = mode});
}

TarBuilder& TarBuilder::Symlink(const std::string& name, const std::string& target) {
  return Add({.name = name, .type = '2', .link = target, .mode = 0777});
}

TarBuilder& TarBuilder::HardLink(const std::string& name, const std::string& target) {
  return Add({.name = name, .type = '1', .link = target});
}

std::string TarBuilder::Build(Compression compression) const {
  std::string out;
  archive* a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  if (compression == Compression::kGzip) archive_write_add_filter_gzip(a);
  if (compression == Compression::kZstd) archive_write_add_filter_zstd(a);
  archive_write_set_bytes_in_last_block(a, 1);
  if (archive_write_open(a, &out, nullptr, &Append, nullptr) != ARCHIVE_OK) {
    throw std::runtime_error(archive_error_string(a));
  }
  for (const Entry& e : entries_) {
    archive_entry* entry = archive_entry_new();
    archive_entry_set_pathname(entry, e.name.c_str());
    archive_entry_set_uid(entry, e.uid);
    archive_entry_set_gid(entry, e.gid);
    archive_entry_set_mtime(entry, e.mtime, 0);
    archive_entry_set_perm(entry, e.mode);
    for (const auto& [name, value] : e.xattrs) {
      archive_entry_xattr_add_entry(entry, name.c_str(), value.data(), value.size());
    }
    switch (e.type) {
      case '0':
        archive_entry_set_filetype(entry, AE_IFREG);
        archive_entry_set_size(entry, static_cast<la_int64_t>(e.data.size()));
        break;
      case '5':
        archive_entry_set_filetype(entry, AE_IFDIR);
        break;
      case '2':
        archive_entry_set_filetype(entry, AE_IFLNK);
        archive_entry_set_symlink(entry, e.link.c_str());
        break;
      case '1':
        archive_entry_set_filetype(entry, AE_IFREG);
        archive_entry_set_hardlink(entry, e.link.c_str());
        archive_entry_set_size(entry, 0);
        break;
      case '3':
        archive_entry_set_filetype(entry, AE_IFCHR);
        archive_entry_set_rdevmajor(entry, e.dev_major);
        archive_entry_set_rdevminor(entry, e.dev_minor);
        break;
      case '6':
        archive_entry_set_filetype(entry, AE_IFIFO);
        break;
    }
    if (archive_write_header(a, entry) != ARCHIVE_OK) {
      throw std::runtime_error(archive_error_string(a));
    }
    if (e.type == '0' && !e.data.empty()) {
      archive_write_data(a, e.data.data(), e.data.size());
    }
    archive_entry_free(entry);
  }
  archive_write_close(a);
  archive_write_free(a);
  return out;
}

}  // namespace berth::testing
