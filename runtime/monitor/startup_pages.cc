#include "runtime/monitor/startup_pages.h"

#include <link.h>
#include <malloc.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>

namespace berth {
namespace {

struct Range {
  uintptr_t begin = 0, end = 0;
};

void DropRange(Range range, Range keep) {
  uintptr_t page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  // Only whole pages inside the range, and never a page of the kept range.
  uintptr_t begin = (range.begin + page - 1) & ~(page - 1);
  uintptr_t end = range.end & ~(page - 1);
  uintptr_t keep_begin = keep.begin & ~(page - 1);
  uintptr_t keep_end = (keep.end + page - 1) & ~(page - 1);
  auto drop = [](uintptr_t from, uintptr_t to) {
    if (from < to) ::madvise(reinterpret_cast<void*>(from), to - from, MADV_DONTNEED);
  };
  if (keep_begin >= keep_end || keep_end <= begin || keep_begin >= end) {
    drop(begin, end);
    return;
  }
  drop(begin, std::min(end, keep_begin));
  drop(std::max(begin, keep_end), end);
}

int DropProgramPages(dl_phdr_info* info, size_t, void*) {
  // The first object is the program itself; shared libraries are shared
  // with other processes already.
  Range relro;
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& header = info->dlpi_phdr[i];
    if (header.p_type == PT_GNU_RELRO)
      relro = {info->dlpi_addr + header.p_vaddr, info->dlpi_addr + header.p_vaddr + header.p_memsz};
  }
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& header = info->dlpi_phdr[i];
    if (header.p_type != PT_LOAD || (header.p_flags & PF_W) != 0) continue;
    DropRange(
        {info->dlpi_addr + header.p_vaddr, info->dlpi_addr + header.p_vaddr + header.p_filesz},
        relro);
  }
  return 1;  // stop after the program
}

}  // namespace

void DropStartupPages() {
  ::dl_iterate_phdr(&DropProgramPages, nullptr);
  ::malloc_trim(0);  // and the heap setup freed
}

}  // namespace berth
