// HTTP answers of the API: JSON bodies and errors, and the status code that
// tells a client what a Status means.
//
// Contract: every JSON body the server writes is made with nlohmann-json
// (DumpJson: compact, keys in insertion order, bytes that are not UTF-8
// replaced by U+FFFD, never thrown). Bodies are sent through a content
// provider (SetBody), never compressed by httplib (/api/v1/bars sends a
// gzip encoding it made once and cached, bars_body.h).
#pragma once

#include <httplib.h>

#include <memory>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/status.h"

namespace tradelake {

// `j` as compact JSON text; invalid UTF-8 in strings is replaced, not thrown.
std::string DumpJson(const nlohmann::ordered_json& j);

// {"error": message}
std::string ErrorJson(std::string_view message);

// Sets the answer to `body` through a content provider rather than
// Response::set_content, because httplib sends a provider's bytes as they
// are: it compresses set_content bodies anew for every request, with brotli
// at its slowest quality when the client offers "br" (browsers and
// httplib::Client do): ~0.5 s of CPU for a one-day 1m bars answer. And the
// body is not copied again.
void SetBody(httplib::Response& res, int status, std::shared_ptr<const std::string> body,
             std::string_view content_type);
void SetJson(httplib::Response& res, int status, std::string body);
void SetJson(httplib::Response& res, int status, const nlohmann::ordered_json& body);
void SetError(httplib::Response& res, int status, std::string_view message);

// 400 InvalidArgument/FailedPrecondition, 403 PermissionDenied, 404 NotFound,
// 429 ResourceExhausted, 503 Unavailable/Cancelled, 504 DeadlineExceeded,
// 500 otherwise.
int HttpStatusOf(const Status& s);
void SetStatusError(httplib::Response& res, const Status& s);

}  // namespace tradelake
