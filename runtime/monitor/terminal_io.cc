#include "runtime/monitor/terminal_io.h"

#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "runtime/base/errno_status.h"

namespace berth {

absl::Status ResizeTerminal(int master, TerminalSize size) {
  winsize window{.ws_row = size.rows, .ws_col = size.columns};
  if (::ioctl(master, TIOCSWINSZ, &window) != 0) return ErrnoStatus("resize the terminal");
  return absl::OkStatus();
}

absl::Status SendTerminalEof(int master) {
  termios settings;
  cc_t eof = 4;  // ^D
  if (::tcgetattr(master, &settings) == 0) eof = settings.c_cc[VEOF];
  if (::write(master, &eof, 1) != 1) return ErrnoStatus("write end-of-file to the terminal");
  return absl::OkStatus();
}

}  // namespace berth
