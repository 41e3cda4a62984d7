#pragma once

namespace berth {

// Unmaps the pages of our own program's code and read-only data that
// setup (create, then start) faulted in. Creating a container runs most of the executor, which
// the monitor never runs again in the hours it then serves; those pages
// come back from the page cache on the next use, so a long-lived monitor
// keeps only what its serving loop touches. Data that was ever written
// (RELRO, .data) is left alone; free heap pages go back to the kernel.
void DropStartupPages();

}  // namespace berth
