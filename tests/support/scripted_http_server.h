#pragma once

// A loopback HTTP/1.1 server for client tests: each request is answered by
// a handler returning the raw response; requests are recorded. One
// connection at a time, closed after each response.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"

namespace berth::testing {

struct RecordedRequest {
  std::string method;
  std::string path;
  std::map<std::string, std::string> headers;  // lowercased names

  std::string header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? "" : it->second;
  }
};

class ScriptedHttpServer {
 public:
  using Handler = std::function<std::string(const RecordedRequest&)>;

  explicit ScriptedHttpServer(Handler handler) : handler_(std::move(handler)) {
    listener_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof(address));
    listen(listener_, 16);
    socklen_t length = sizeof(address);
    getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }

  ~ScriptedHttpServer() {
    stopping_ = true;
    shutdown(listener_, SHUT_RDWR);
    close(listener_);
    thread_.join();
  }

  std::string host() const { return absl::StrCat("127.0.0.1:", port_); }

  std::vector<RecordedRequest> requests() const {
    absl::MutexLock lock(&mutex_);
    return requests_;
  }

  static std::string Response(int status, const std::string& body,
                              const std::vector<std::string>& headers = {}) {
    std::string out =
        absl::StrCat("HTTP/1.1 ", status, " Scripted\r\nContent-Length: ", body.size(),
                     "\r\nConnection: close\r\n");
    for (const std::string& h : headers) absl::StrAppend(&out, h, "\r\n");
    return absl::StrCat(out, "\r\n", body);
  }

 private:
  void Serve() {
    while (!stopping_) {
      int fd = accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      std::string data;
      char buffer[4096];
      while (data.find("\r\n\r\n") == std::string::npos) {
        ssize_t n = read(fd, buffer, sizeof(buffer));
        if (n <= 0) break;
        data.append(buffer, static_cast<size_t>(n));
      }
      RecordedRequest request;
      size_t line_end = data.find("\r\n");
      std::string line = data.substr(0, line_end);
      size_t space = line.find(' ');
      request.method = line.substr(0, space);
      request.path = line.substr(space + 1, line.rfind(' ') - space - 1);
      for (size_t at = line_end + 2; at < data.size();) {
        size_t end = data.find("\r\n", at);
        if (end == std::string::npos || end == at) break;
        std::string header = data.substr(at, end - at);
        size_t colon = header.find(':');
        if (colon != std::string::npos) {
          request.headers[absl::AsciiStrToLower(header.substr(0, colon))] =
              std::string(absl::StripAsciiWhitespace(header.substr(colon + 1)));
        }
        at = end + 2;
      }
      {
        absl::MutexLock lock(&mutex_);
        requests_.push_back(request);
      }
      std::string response = handler_(request);
      for (size_t sent = 0; sent < response.size();) {
        ssize_t n = send(fd, response.data() + sent, response.size() - sent, MSG_NOSIGNAL);
        if (n <= 0) break;
        sent += static_cast<size_t>(n);
      }
      close(fd);
    }
  }

  Handler handler_;
  int listener_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
  mutable absl::Mutex mutex_;
  std::vector<RecordedRequest> requests_;
};

}  // namespace berth::testing
