#include "core/status.h"

#include "core/exit_codes.h"

namespace tradelake {

std::string_view StatusCodeName(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return "OK";
    case StatusCode::kInvalidArgument: return "InvalidArgument";
    case StatusCode::kNotFound: return "NotFound";
    case StatusCode::kAlreadyExists: return "AlreadyExists";
    case StatusCode::kPermissionDenied: return "AccessDenied";
    case StatusCode::kFailedPrecondition: return "FailedPrecondition";
    case StatusCode::kDataLoss: return "DataLoss";
    case StatusCode::kUnavailable: return "Unavailable";
    case StatusCode::kResourceExhausted: return "RateLimited";
    case StatusCode::kDeadlineExceeded: return "Timeout";
    case StatusCode::kCancelled: return "Cancelled";
    case StatusCode::kIOError: return "IOError";
    case StatusCode::kInternal: return "Internal";
  }
  return "Unknown";
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  std::string out(StatusCodeName(code_));
  out += ": ";
  out += message_;
  return out;
}

Status Status::WithContext(std::string_view context) const {
  if (ok()) return *this;
  std::string msg(context);
  msg += ": ";
  msg += message_;
  return Status(code_, std::move(msg));
}

int Status::ExitCode() const {
  switch (code_) {
    case StatusCode::kOk: return kExitOk;
    case StatusCode::kInvalidArgument:
    case StatusCode::kNotFound: return kExitUsage;
    case StatusCode::kPermissionDenied: return kExitAccessDenied;
    case StatusCode::kUnavailable:
    case StatusCode::kResourceExhausted:
    case StatusCode::kDeadlineExceeded: return kExitUnavailable;
    case StatusCode::kDataLoss: return kExitDataError;
    case StatusCode::kIOError: return kExitIOError;
    case StatusCode::kCancelled: return kExitInterrupted;
    default: return kExitFailure;
  }
}

}  // namespace tradelake
