// The AWS Lambda Runtime API client of a custom runtime (provided.al2023):
// what `bootstrap` speaks to the Lambda service over HTTP on
// $AWS_LAMBDA_RUNTIME_API (host:port, plain HTTP, local to the sandbox).
//
//   GET  /2018-06-01/runtime/invocation/next              waits for the next event
//   POST /2018-06-01/runtime/invocation/{id}/response     the handler's answer (202)
//   POST /2018-06-01/runtime/invocation/{id}/error        a handler failure (202)
//   POST /2018-06-01/runtime/init/error                   a startup failure (202; Lambda
//                                                          then ends the sandbox)
// Errors carry the header Lambda-Runtime-Function-Error-Type and the body
// {"errorMessage": ..., "errorType": ..., "stackTrace": []}.
//
// One client per process, used by one thread (the runtime loop). libcurl
// underneath; the `next` request has no timeout, since Lambda freezes the
// process between events and answers when there is one.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/status.h"

namespace tradelake {

// One event handed out by GET .../invocation/next.
struct Invocation {
  std::string request_id;       // Lambda-Runtime-Aws-Request-Id
  int64_t deadline_ms = 0;      // Lambda-Runtime-Deadline-Ms: Unix epoch milliseconds; 0 if absent
  std::string function_arn;     // Lambda-Runtime-Invoked-Function-Arn
  std::string trace_id;         // Lambda-Runtime-Trace-Id (X-Ray), may be empty
  std::string body;             // the event, JSON
};

// What a handler or the init phase reports as failure.
struct RuntimeError {
  std::string type;     // e.g. "Unavailable", "Runtime.InitError"; becomes the error-type header
  std::string message;
};

// {"errorMessage":"...","errorType":"...","stackTrace":[]}
std::string RuntimeErrorJson(const RuntimeError& error);

class RuntimeClient {
 public:
  // `api` is host:port as in $AWS_LAMBDA_RUNTIME_API. InvalidArgument if empty.
  static Result<std::unique_ptr<RuntimeClient>> Create(std::string_view api);
  ~RuntimeClient();
  RuntimeClient(const RuntimeClient&) = delete;
  RuntimeClient& operator=(const RuntimeClient&) = delete;

  // Blocks until the next event. Unavailable if the API cannot be reached or
  // answers other than 200 or without a request id.
  Result<Invocation> Next();
  // POST .../invocation/{id}/response. Unavailable unless answered 2xx;
  // InvalidArgument on 413 (the response is larger than Lambda takes, 6 MB).
  Status PostResponse(std::string_view request_id, std::string_view json);
  // POST .../invocation/{id}/error.
  Status PostError(std::string_view request_id, const RuntimeError& error);
  // POST .../init/error.
  Status PostInitError(const RuntimeError& error);

 private:
  struct Impl;
  explicit RuntimeClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tradelake
