#include "cri/streaming/remote_command.h"

#include "absl/strings/match.h"
#include "absl/strings/strip.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "nlohmann/json.hpp"
#include "runtime/base/logging.h"

namespace berth::streaming {

int RemoteCommandVersion(absl::string_view protocol) {
  if (protocol == "channel.k8s.io") return 1;
  int version = 0;
  if (absl::ConsumePrefix(&protocol, "v") && absl::ConsumeSuffix(&protocol, ".channel.k8s.io") &&
      absl::SimpleAtoi(protocol, &version) && version >= 2 && version <= 5)
    return version;
  return 0;
}

std::string ExitStatusMessage(int version, const std::vector<std::string>& cmd, int exit_code) {
  if (exit_code == 0) {
    if (version < 4) return "";
    return nlohmann::json{{"metadata", nlohmann::json::object()}, {"status", "Success"}}.dump();
  }
  std::string message =
      absl::StrCat("command terminated with non-zero exit code: error executing command [",
                   absl::StrJoin(cmd, " "), "], exit code ", exit_code);
  if (version < 4) return message;
  nlohmann::json status = {
      {"metadata", nlohmann::json::object()},
      {"status", "Failure"},
      {"message", message},
      {"reason", "NonZeroExitCode"},
      {"details",
       {{"causes", nlohmann::json::array({{{"reason", "ExitCode"},
                                           {"message", std::to_string(exit_code)}}})}}}};
  return status.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string ErrorStatusMessage(int version, absl::string_view error) {
  if (version < 4) return std::string(error);
  std::string message = absl::StrCat("Internal error occurred: ", error);
  nlohmann::json status = {{"metadata", nlohmann::json::object()},
                           {"status", "Failure"},
                           {"message", message},
                           {"reason", "InternalError"},
                           {"details", {{"causes", nlohmann::json::array({{{"message", error}}})}}},
                           {"code", 500}};
  return status.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void RemoteCommandPump::Start() {
  if (session_ || finished_) return;
  absl::StatusOr<std::unique_ptr<StreamSession>> session =
      request_.kind == StreamKind::kAttach ? backend_.Attach(request_) : backend_.Exec(request_);
  if (!session.ok()) {
    Finish(ErrorStatusMessage(version_, session.status().message()));
    return;
  }
  session_ = *std::move(session);
  FlushInput();
}

void RemoteCommandPump::Queue(StreamTag tag, absl::string_view payload) {
  pending_input_.emplace_back(tag, std::string(payload));
  pending_input_bytes_ += payload.size();
  FlushInput();
}

void RemoteCommandPump::OnStdin(absl::string_view data) {
  if (!request_.stdin || finished_) return;
  while (!data.empty()) {
    absl::string_view chunk = data.substr(0, kMaxStreamPayload);
    data.remove_prefix(chunk.size());
    Queue(StreamTag::kStdin, chunk);
  }
}

void RemoteCommandPump::OnStdinEnd() {
  if (request_.stdin && !finished_) Queue(StreamTag::kCloseStdin, {});
}

void RemoteCommandPump::OnResizeBytes(absl::string_view data) {
  if (finished_) return;
  resize_bytes_.append(data.data(), data.size());
  // Go's json.Encoder writes one object per line; objects have no nesting.
  for (size_t end; (end = resize_bytes_.find('}')) != std::string::npos;) {
    std::string object = resize_bytes_.substr(0, end + 1);
    resize_bytes_.erase(0, end + 1);
    nlohmann::json size = nlohmann::json::parse(object, nullptr, /*allow_exceptions=*/false);
    if (!size.is_object()) continue;
    uint64_t width = size.value("Width", uint64_t{0});
    uint64_t height = size.value("Height", uint64_t{0});
    if (width == 0 || height == 0 || width > 0xffff || height > 0xffff) continue;
    if (request_.tty)
      Queue(StreamTag::kResize, ResizePayload({.rows = static_cast<uint16_t>(height),
                                               .columns = static_cast<uint16_t>(width)}));
  }
  if (resize_bytes_.size() > 4096) resize_bytes_.clear();  // not a size; drop it
}

void RemoteCommandPump::FlushInput() {
  wants_write_ = false;
  if (!session_) return;
  while (!pending_input_.empty()) {
    auto& [tag, payload] = pending_input_.front();
    absl::StatusOr<bool> taken = session_->OfferInput(tag, payload);
    if (!taken.ok()) {  // the session is over; its output says how
      pending_input_.clear();
      pending_input_bytes_ = 0;
      return;
    }
    if (!*taken) {
      wants_write_ = true;
      return;
    }
    pending_input_bytes_ -= payload.size();
    pending_input_.pop_front();
  }
}

void RemoteCommandPump::CollectPollFds(std::vector<pollfd>& fds, bool output_room) {
  if (!session_ || finished_) return;
  short events = 0;
  if (output_room && channels_.Unsent() < kOutputHighWater) events |= POLLIN;
  if (wants_write_) events |= POLLOUT;
  // With nothing wanted, poll must not report the session's hangup either.
  fds.push_back({.fd = events ? session_->fd() : -1, .events = events, .revents = 0});
}

void RemoteCommandPump::OnPolled(absl::Span<const pollfd> fds) {
  if (!session_ || finished_ || fds.empty()) return;
  if (fds[0].revents & POLLOUT) FlushInput();
  if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) PumpOutput();
}

void RemoteCommandPump::PumpOutput() {
  // A few messages per turn, so input and other sessions get their share.
  for (int i = 0; i < 16 && !finished_ && channels_.Unsent() < kOutputHighWater; ++i) {
    absl::StatusOr<StreamSession::Event> event = session_->Next(absl::ZeroDuration());
    if (!event.ok()) {
      if (absl::IsDeadlineExceeded(event.status())) return;  // nothing more now
      Finish(ErrorStatusMessage(version_, event.status().message()));
      return;
    }
    switch (event->kind) {
      case StreamSession::Event::kStdout:
        if (request_.stdout) channels_.Write(Channel::kStdout, event->data);
        break;
      case StreamSession::Event::kStderr:
        // With a terminal there is no stderr channel: everything is stdout.
        if (request_.tty && request_.stdout) {
          channels_.Write(Channel::kStdout, event->data);
        } else if (request_.stderr) {
          channels_.Write(Channel::kStderr, event->data);
        }
        break;
      case StreamSession::Event::kExit:
        Finish(ExitStatusMessage(version_, request_.cmd, event->exit.exit_code));
        return;
      case StreamSession::Event::kEnd:
        // An attach ends with the container's output; an exec always says
        // how its process ended first.
        Finish(request_.kind == StreamKind::kAttach
                   ? ExitStatusMessage(version_, {}, 0)
                   : ErrorStatusMessage(version_, "the exec session ended without an exit status"));
        return;
    }
  }
}

void RemoteCommandPump::Finish(const std::string& error_channel_message) {
  if (finished_) return;
  finished_ = true;
  session_.reset();
  pending_input_.clear();
  pending_input_bytes_ = 0;
  channels_.Close(Channel::kStdout);
  channels_.Close(Channel::kStderr);
  if (!error_channel_message.empty()) channels_.Write(Channel::kError, error_channel_message);
  channels_.Close(Channel::kError);
}

}  // namespace berth::streaming
