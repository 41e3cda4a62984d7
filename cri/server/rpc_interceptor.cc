#include "cri/server/rpc_interceptor.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "runtime/base/logging.h"

namespace berth::cri {
namespace {

using grpc::experimental::InterceptionHookPoints;

// "/runtime.v1.RuntimeService/RunPodSandbox" -> "RunPodSandbox"
std::string ShortMethodName(const char* full_name) {
  std::string name = full_name != nullptr ? full_name : "?";
  size_t slash = name.rfind('/');
  return slash == std::string::npos ? name : name.substr(slash + 1);
}

const char* CodeName(grpc::StatusCode code) {
  static constexpr const char* kNames[] = {"OK",
                                           "CANCELLED",
                                           "UNKNOWN",
                                           "INVALID_ARGUMENT",
                                           "DEADLINE_EXCEEDED",
                                           "NOT_FOUND",
                                           "ALREADY_EXISTS",
                                           "PERMISSION_DENIED",
                                           "RESOURCE_EXHAUSTED",
                                           "FAILED_PRECONDITION",
                                           "ABORTED",
                                           "OUT_OF_RANGE",
                                           "UNIMPLEMENTED",
                                           "INTERNAL",
                                           "UNAVAILABLE",
                                           "DATA_LOSS",
                                           "UNAUTHENTICATED"};
  int index = static_cast<int>(code);
  return index >= 0 && index < static_cast<int>(std::size(kNames)) ? kNames[index] : "?";
}

class RpcInterceptor : public grpc::experimental::Interceptor {
 public:
  RpcInterceptor(grpc::experimental::ServerRpcInfo* info, std::shared_ptr<InflightRpcs> inflight,
                 Metrics& metrics)
      : method_(ShortMethodName(info->method())),
        start_(absl::Now()),
        inflight_(std::move(inflight)),
        metrics_(metrics) {
    inflight_->Begin();
  }
  ~RpcInterceptor() override { inflight_->End(); }

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
      grpc::Status status = methods->GetSendStatus();
      if (status.error_code() == grpc::StatusCode::UNIMPLEMENTED &&
          status.error_message().empty()) {
        status = grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                              absl::StrCat(method_, " is not implemented by berth yet"));
        methods->ModifySendStatus(status);
      }
      absl::Duration took = absl::Now() - start_;
      metrics_.RpcDone(method_, CodeName(status.error_code()), took);
      double millis = absl::ToDoubleMilliseconds(took);
      if (status.ok()) {
        spdlog::debug("rpc {} OK in {:.3f}ms", method_, millis);
      } else {
        spdlog::debug("rpc {} {} in {:.3f}ms: {}", method_, CodeName(status.error_code()), millis,
                      status.error_message());
      }
    }
    methods->Proceed();
  }

 private:
  std::string method_;
  absl::Time start_;
  std::shared_ptr<InflightRpcs> inflight_;
  Metrics& metrics_;
};

}  // namespace

void InflightRpcs::Begin() {
  absl::MutexLock lock(&mutex_);
  ++count_;
}

void InflightRpcs::End() {
  absl::MutexLock lock(&mutex_);
  --count_;
}

int InflightRpcs::WaitUntilIdle(absl::Time deadline) {
  absl::MutexLock lock(&mutex_);
  auto idle = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) { return count_ == 0; };
  mutex_.AwaitWithDeadline(absl::Condition(&idle), deadline);
  return count_;
}

grpc::experimental::Interceptor* RpcInterceptorFactory::CreateServerInterceptor(
    grpc::experimental::ServerRpcInfo* info) {
  return new RpcInterceptor(info, inflight_, metrics_);
}

}  // namespace berth::cri
