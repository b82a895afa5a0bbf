#include "serve/http_response.h"

#include <algorithm>
#include <utility>

namespace tradelake {

std::string DumpJson(const nlohmann::ordered_json& j) {
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

std::string ErrorJson(std::string_view message) {
  nlohmann::ordered_json j;
  j["error"] = message;
  return DumpJson(j);
}

void SetBody(httplib::Response& res, int status, std::shared_ptr<const std::string> body,
             std::string_view content_type) {
  res.status = status;
  if (body->empty()) {  // httplib takes a provider of length 0 for one without a length
    res.set_content("", std::string(content_type));
    return;
  }
  const size_t size = body->size();
  res.set_content_provider(size, std::string(content_type),
                           [body = std::move(body)](size_t offset, size_t length, httplib::DataSink& sink) {
                             return sink.write(body->data() + offset, std::min(length, body->size() - offset));
                           });
}

void SetJson(httplib::Response& res, int status, std::string body) {
  SetBody(res, status, std::make_shared<const std::string>(std::move(body)), "application/json");
}

void SetJson(httplib::Response& res, int status, const nlohmann::ordered_json& body) {
  SetJson(res, status, DumpJson(body));
}

void SetError(httplib::Response& res, int status, std::string_view message) {
  SetJson(res, status, ErrorJson(message));
}

int HttpStatusOf(const Status& s) {
  switch (s.code()) {
    case StatusCode::kInvalidArgument:
    case StatusCode::kFailedPrecondition:
      return 400;
    case StatusCode::kNotFound:
      return 404;
    case StatusCode::kPermissionDenied:
      return 403;
    case StatusCode::kResourceExhausted:
      return 429;
    case StatusCode::kUnavailable:
    case StatusCode::kCancelled:
      return 503;
    case StatusCode::kDeadlineExceeded:
      return 504;
    default:
      return 500;
  }
}

void SetStatusError(httplib::Response& res, const Status& s) { SetError(res, HttpStatusOf(s), s.message()); }

}  // namespace tradelake
