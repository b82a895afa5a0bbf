// Status and Result<T>: tradelake's error model.
//
// Errors are values. A function that can fail returns Status (no value) or
// Result<T> (a value or an error), never throws across a module boundary.
// The code tells the caller whether retrying can help: IsRetryable() is what
// the ingester's backoff reads, never the message. The message names the
// thing that failed and, where there is one, the fix.
#pragma once

#include <cassert>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace tradelake {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,     // the caller passed something wrong; retrying will not help
  kNotFound,            // a named thing does not exist (404, unknown product, missing key)
  kAlreadyExists,       // create-only write found the key taken
  kPermissionDenied,    // a role policy or the server refused (403)
  kFailedPrecondition,  // state is not what the operation needs
  kDataLoss,            // data is corrupt or incomplete (truncated object, broken invariant)
  kUnavailable,         // transient: 5xx, connection refused/reset, truncated body. Retryable.
  kResourceExhausted,   // rate limited (429). Retryable after backoff.
  kDeadlineExceeded,    // timed out. Retryable.
  kCancelled,           // the user or a signal stopped the work
  kIOError,             // local disk error (full disk, permissions on the lake folder)
  kInternal,            // a bug: an invariant of tradelake itself does not hold
};

std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status OK() { return Status(); }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // True when the same request may succeed later (429, 5xx, timeouts, resets).
  bool IsRetryable() const {
    return code_ == StatusCode::kUnavailable || code_ == StatusCode::kResourceExhausted ||
           code_ == StatusCode::kDeadlineExceeded;
  }

  // "NotFound: product FOO-USD is not listed ..."; "OK" for success.
  std::string ToString() const;

  // Returns a copy whose message is "<context>: <message>".
  Status WithContext(std::string_view context) const;

  // Process exit code a CLI command should return for this status (see cli/exit_codes.h).
  int ExitCode() const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline Status InvalidArgument(std::string msg) { return {StatusCode::kInvalidArgument, std::move(msg)}; }
inline Status NotFound(std::string msg) { return {StatusCode::kNotFound, std::move(msg)}; }
inline Status AlreadyExists(std::string msg) { return {StatusCode::kAlreadyExists, std::move(msg)}; }
inline Status PermissionDenied(std::string msg) { return {StatusCode::kPermissionDenied, std::move(msg)}; }
inline Status FailedPrecondition(std::string msg) { return {StatusCode::kFailedPrecondition, std::move(msg)}; }
inline Status DataLoss(std::string msg) { return {StatusCode::kDataLoss, std::move(msg)}; }
inline Status Unavailable(std::string msg) { return {StatusCode::kUnavailable, std::move(msg)}; }
inline Status ResourceExhausted(std::string msg) { return {StatusCode::kResourceExhausted, std::move(msg)}; }
inline Status DeadlineExceeded(std::string msg) { return {StatusCode::kDeadlineExceeded, std::move(msg)}; }
inline Status Cancelled(std::string msg) { return {StatusCode::kCancelled, std::move(msg)}; }
inline Status IOError(std::string msg) { return {StatusCode::kIOError, std::move(msg)}; }
inline Status Internal(std::string msg) { return {StatusCode::kInternal, std::move(msg)}; }

// A value of type T, or the Status explaining why there is none.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(Status status) : v_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    assert(!std::get<Status>(v_).ok() && "Result built from an OK status has no value");
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  Status status() const { return ok() ? Status::OK() : std::get<Status>(v_); }

  // REQUIRES: ok().
  const T& value() const& { return std::get<T>(v_); }
  T& value() & { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  const T& operator*() const& { return value(); }
  T& operator*() & { return value(); }
  const T* operator->() const { return &value(); }
  T* operator->() { return &value(); }

  T value_or(T fallback) const& { return ok() ? value() : std::move(fallback); }

 private:
  std::variant<Status, T> v_;
};

}  // namespace tradelake

#define TL_CONCAT_INNER(a, b) a##b
#define TL_CONCAT(a, b) TL_CONCAT_INNER(a, b)

#define RETURN_IF_ERROR(expr)                       \
  do {                                              \
    ::tradelake::Status tl_status_ = (expr);        \
    if (!tl_status_.ok()) return tl_status_;        \
  } while (false)

#define TL_ASSIGN_OR_RETURN_IMPL(tmp, lhs, rexpr) \
  auto tmp = (rexpr);                             \
  if (!tmp.ok()) return tmp.status();             \
  lhs = std::move(tmp).value()

#define ASSIGN_OR_RETURN(lhs, rexpr) \
  TL_ASSIGN_OR_RETURN_IMPL(TL_CONCAT(tl_result_, __LINE__), lhs, rexpr)
