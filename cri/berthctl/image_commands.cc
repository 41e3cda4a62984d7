#include "cri/berthctl/image_commands.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <iomanip>
#include <iostream>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "cri/berthctl/fail.h"
#include "cri/grpc_status.h"
#include "runtime/base/errno_status.h"
#include "runtime/base/unique_fd.h"

namespace berth::cri {
namespace {

constexpr char kImagesUsage[] =
    "usage:\n"
    "  berthctl images                                    list images\n"
    "  berthctl images import [--no-unpack] [--pin] FILE|-\n"
    "                                                     load a docker-save or OCI archive\n"
    "  berthctl images export -o FILE|- IMAGE...          write images as an OCI archive\n"
    "  berthctl images tag SOURCE TARGET                  give an image another name\n"
    "  berthctl pull [--user USER:PASSWORD] IMAGE         pull, showing each layer's progress\n";

int Usage() {
  std::cerr << kImagesUsage;
  return 2;
}

std::string HumanSize(uint64_t bytes) {
  const char* units[] = {"B", "kB", "MB", "GB", "TB"};
  double value = static_cast<double>(bytes);
  int unit = 0;
  while (value >= 1000 && unit < 4) {
    value /= 1000;
    ++unit;
  }
  return unit == 0 ? absl::StrCat(bytes, "B") : absl::StrFormat("%.3g%s", value, units[unit]);
}

int List(CriClient& client) {
  absl::StatusOr<runtime::v1::ListImagesResponse> images =
      client.Call(&runtime::v1::ImageService::Stub::ListImages, runtime::v1::ListImagesRequest());
  if (!images.ok()) return Fail(images.status());
  std::cout << absl::StrFormat("%-60s %-20s %-13s %-10s %s\n", "IMAGE", "TAG", "IMAGE ID", "SIZE",
                               "PINNED");
  for (const runtime::v1::Image& image : images->images()) {
    std::string id = image.id().substr(image.id().find(':') + 1, 13);
    std::string pinned = image.pinned() ? "true" : "";
    if (image.repo_tags().empty()) {
      std::string repo = image.repo_digests().empty()
                             ? "<none>"
                             : image.repo_digests(0).substr(0, image.repo_digests(0).find('@'));
      std::cout << absl::StrFormat("%-60s %-20s %-13s %-10s %s\n", repo, "<none>", id,
                                   HumanSize(image.size()), pinned);
    }
    for (const std::string& tag : image.repo_tags()) {
      size_t colon = tag.rfind(':');
      std::cout << absl::StrFormat("%-60s %-20s %-13s %-10s %s\n", tag.substr(0, colon),
                                   tag.substr(colon + 1), id, HumanSize(image.size()), pinned);
    }
  }
  return 0;
}

int Import(CriClient& client, const std::vector<std::string>& args) {
  berth::v1::ImportRequest request;
  std::string file;
  for (const std::string& arg : args) {
    if (arg == "--no-unpack") {
      request.mutable_options()->set_no_unpack(true);
    } else if (arg == "--pin") {
      request.mutable_options()->set_pin(true);
    } else if (file.empty()) {
      file = arg;
    } else {
      return Usage();
    }
  }
  if (file.empty()) return Usage();
  UniqueFd owned;
  int fd = STDIN_FILENO;
  if (file != "-") {
    owned.Reset(open(file.c_str(), O_RDONLY | O_CLOEXEC));
    if (!owned) return Fail(berth::ErrnoStatus("open " + file));
    fd = owned.get();
  }
  grpc::ClientContext context;
  berth::v1::ImportResponse response;
  std::unique_ptr<grpc::ClientWriter<berth::v1::ImportRequest>> writer =
      client.berth_images().Import(&context, &response);
  std::string buffer(1 << 20, '\0');
  bool sent_options = false;
  while (true) {
    ssize_t n = read(fd, buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Fail(berth::ErrnoStatus("read " + file));
    if (n == 0 && sent_options) break;
    request.set_data(buffer.data(), static_cast<size_t>(n));
    if (!writer->Write(request)) break;  // the server ended the call; Finish says why
    sent_options = true;
    request.clear_options();
    if (n == 0) break;
  }
  writer->WritesDone();
  grpc::Status status = writer->Finish();
  if (!status.ok()) return Fail(FromGrpcStatus(status));
  for (const berth::v1::ImportedImage& image : response.images()) {
    std::cout << "imported " << image.id();
    for (const std::string& name : image.names()) std::cout << " " << name;
    std::cout << "\n";
  }
  return 0;
}

int Export(CriClient& client, const std::vector<std::string>& args) {
  std::string output;
  berth::v1::ExportRequest request;
  for (size_t i = 0; i < args.size(); ++i) {
    if ((args[i] == "-o" || args[i] == "--output") && i + 1 < args.size()) {
      output = args[++i];
    } else {
      request.add_images(args[i]);
    }
  }
  if (output.empty() || request.images().empty()) return Usage();
  UniqueFd owned;
  int fd = STDOUT_FILENO;
  std::string temporary;
  if (output != "-") {
    // Written beside the target and renamed, so a failed export leaves no torn file.
    temporary = output + ".partial";
    owned.Reset(open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (!owned) return Fail(berth::ErrnoStatus("create " + temporary));
    fd = owned.get();
  }
  grpc::ClientContext context;
  std::unique_ptr<grpc::ClientReader<berth::v1::ExportChunk>> reader =
      client.berth_images().Export(&context, request);
  berth::v1::ExportChunk chunk;
  while (reader->Read(&chunk)) {
    const std::string& data = chunk.data();
    for (size_t done = 0; done < data.size();) {
      ssize_t n = write(fd, data.data() + done, data.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Fail(berth::ErrnoStatus("write " + output));
      done += static_cast<size_t>(n);
    }
  }
  grpc::Status status = reader->Finish();
  if (!status.ok()) {
    if (!temporary.empty()) unlink(temporary.c_str());
    return Fail(FromGrpcStatus(status));
  }
  if (!temporary.empty()) {
    if (fsync(fd) != 0 || rename(temporary.c_str(), output.c_str()) != 0) {
      return Fail(berth::ErrnoStatus("rename " + temporary));
    }
  }
  return 0;
}

int Tag(CriClient& client, const std::vector<std::string>& args) {
  if (args.size() != 2) return Usage();
  berth::v1::TagRequest request;
  request.set_source(args[0]);
  request.set_target(args[1]);
  absl::StatusOr<berth::v1::TagResponse> response =
      [&]() -> absl::StatusOr<berth::v1::TagResponse> {
    grpc::ClientContext context;
    berth::v1::TagResponse out;
    grpc::Status status = client.berth_images().Tag(&context, request, &out);
    if (!status.ok()) {
      return FromGrpcStatus(status);
    }
    return out;
  }();
  if (!response.ok()) return Fail(response.status());
  std::cout << response->id() << "\n";
  return 0;
}

// One line per layer: "sha256:0123abcd  [=====>     ]  12.3MB/45.6MB".
void DrawProgress(const berth::v1::PullProgress& progress, size_t& lines_drawn, bool tty) {
  if (tty && lines_drawn > 0) std::cout << "\033[" << lines_drawn << "A";
  for (const berth::v1::LayerProgress& layer : progress.layers()) {
    std::string bar;
    constexpr int kWidth = 30;
    int filled = layer.total() > 0 ? static_cast<int>(kWidth * layer.done() / layer.total()) : 0;
    if (layer.finished()) filled = kWidth;
    bar = std::string(filled, '=') + (filled < kWidth ? ">" : "") +
          std::string(std::max(0, kWidth - filled - 1), ' ');
    std::string state = layer.cached() ? "exists"
                        : layer.finished()
                            ? "done"
                            : absl::StrCat(HumanSize(layer.done()), "/", HumanSize(layer.total()));
    if (tty) std::cout << "\033[2K";
    std::cout << layer.digest().substr(7, 12) << "  [" << bar << "]  " << state << "\n";
  }
  lines_drawn = static_cast<size_t>(progress.layers_size());
  std::cout.flush();
}

}  // namespace

int ImagesCommand(CriClient& client, const std::vector<std::string>& args) {
  if (args.empty()) return List(client);
  std::vector<std::string> rest(args.begin() + 1, args.end());
  if (args[0] == "import") return Import(client, rest);
  if (args[0] == "export") return Export(client, rest);
  if (args[0] == "tag") return Tag(client, rest);
  if (args[0] == "ls" || args[0] == "list") return List(client);
  return Usage();
}

int PullCommand(CriClient& client, const std::vector<std::string>& args) {
  berth::v1::PullRequest request;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--user" && i + 1 < args.size()) {
      std::string user = args[++i];
      size_t colon = user.find(':');
      request.set_username(user.substr(0, colon));
      if (colon != std::string::npos) request.set_password(user.substr(colon + 1));
    } else if (request.image().empty()) {
      request.set_image(args[i]);
    } else {
      return Usage();
    }
  }
  if (request.image().empty()) return Usage();
  bool tty = isatty(STDOUT_FILENO) != 0;
  grpc::ClientContext context;
  std::unique_ptr<grpc::ClientReader<berth::v1::PullProgress>> reader =
      client.berth_images().Pull(&context, request);
  berth::v1::PullProgress progress;
  size_t lines = 0;
  std::string id;
  berth::v1::PullProgress last;
  while (reader->Read(&progress)) {
    if (tty) DrawProgress(progress, lines, tty);
    last = progress;
    if (!progress.image_id().empty()) id = progress.image_id();
  }
  grpc::Status status = reader->Finish();
  if (!status.ok()) {
    return Fail(FromGrpcStatus(status));
  }
  if (!tty) DrawProgress(last, lines, tty);
  std::cout << "Image is up to date for " << id << "\n";
  return 0;
}

}  // namespace berth::cri
