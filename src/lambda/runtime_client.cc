#include "lambda/runtime_client.h"

#include <cstdlib>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/curl.h"

namespace tradelake {

namespace {

constexpr std::string_view kPrefix = "/2018-06-01/runtime";

struct Response {
  long status = 0;
  std::string body;
  std::string request_id, deadline_ms, function_arn, trace_id;
};

size_t OnBody(char* data, size_t size, size_t n, void* user) {
  static_cast<std::string*>(user)->append(data, size * n);
  return size * n;
}

bool HeaderIs(std::string_view line, std::string_view name, std::string* value) {
  if (line.size() <= name.size() || line[name.size()] != ':') return false;
  for (size_t i = 0; i < name.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(line[i])) != std::tolower(static_cast<unsigned char>(name[i]))) {
      return false;
    }
  }
  *value = std::string(curl::TrimHttpSpace(line.substr(name.size() + 1)));
  return true;
}

size_t OnHeader(char* data, size_t size, size_t n, void* user) {
  auto* r = static_cast<Response*>(user);
  std::string_view line(data, size * n);
  HeaderIs(line, "Lambda-Runtime-Aws-Request-Id", &r->request_id) ||
      HeaderIs(line, "Lambda-Runtime-Deadline-Ms", &r->deadline_ms) ||
      HeaderIs(line, "Lambda-Runtime-Invoked-Function-Arn", &r->function_arn) ||
      HeaderIs(line, "Lambda-Runtime-Trace-Id", &r->trace_id);
  return size * n;
}

}  // namespace

std::string RuntimeErrorJson(const RuntimeError& error) {
  nlohmann::json j{{"errorMessage", error.message}, {"errorType", error.type}, {"stackTrace", nlohmann::json::array()}};
  // Invalid UTF-8 in a message (exchange bytes, say) must not make the report itself fail.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

struct RuntimeClient::Impl {
  std::string base;  // http://host:port/2018-06-01/runtime
  curl::EasyPtr easy;

  // One request on the kept-alive connection. body == nullptr: GET.
  Result<Response> Call(const std::string& path, const std::string* body, const std::string& error_type) {
    CURL* h = easy.get();
    curl_easy_reset(h);
    Response r;
    char errbuf[CURL_ERROR_SIZE] = {0};
    const std::string url = base + path;
    curl_easy_setopt(h, CURLOPT_URL, url.c_str());
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, OnBody);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &r.body);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, OnHeader);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &r);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    // No proxy may sit between a runtime and its sandbox's API.
    curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
    curl::SlistPtr headers;
    auto add = [&](const std::string& hdr) { headers.reset(curl_slist_append(headers.release(), hdr.c_str())); };
    if (body != nullptr) {
      curl_easy_setopt(h, CURLOPT_POST, 1L);
      curl_easy_setopt(h, CURLOPT_POSTFIELDS, body->data());
      curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body->size()));
      add("Content-Type: application/json");
      add("Expect:");
      if (!error_type.empty()) add("Lambda-Runtime-Function-Error-Type: " + error_type);
      curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers.get());
    }
    const std::string what = fmt::format("{} {}", body ? "POST" : "GET", url);
    curl::ApplyCaBundle(h);
    CURLcode rc = curl_easy_perform(h);
    if (rc != CURLE_OK) return curl::TransportError(rc, what, errbuf);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r.status);
    return r;
  }

  Status Post(const std::string& path, const std::string& body, const std::string& error_type) {
    auto r = Call(path, &body, error_type);
    if (!r.ok()) return r.status();
    if (r->status == 413) {
      return InvalidArgument(fmt::format("POST {}: the Runtime API refused the payload as too large (413): {}",
                                         path, r->body));
    }
    if (r->status < 200 || r->status > 299) {
      return Unavailable(fmt::format("POST {}: the Runtime API answered {}: {}", path, r->status, r->body));
    }
    return Status::OK();
  }
};

RuntimeClient::RuntimeClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
RuntimeClient::~RuntimeClient() = default;

Result<std::unique_ptr<RuntimeClient>> RuntimeClient::Create(std::string_view api) {
  if (api.empty()) {
    return InvalidArgument("no Lambda Runtime API address; AWS_LAMBDA_RUNTIME_API (host:port) is set by Lambda");
  }
  if (curl::GlobalInitOnce() != CURLE_OK) return Internal("curl_global_init failed");
  auto impl = std::make_unique<Impl>();
  impl->base = fmt::format("http://{}{}", api, kPrefix);
  impl->easy.reset(curl_easy_init());
  if (!impl->easy) return Internal("curl_easy_init failed");
  return std::unique_ptr<RuntimeClient>(new RuntimeClient(std::move(impl)));
}

Result<Invocation> RuntimeClient::Next() {
  auto r = impl_->Call("/invocation/next", nullptr, "");
  if (!r.ok()) return r.status();
  if (r->status != 200) {
    return Unavailable(fmt::format("GET {}/invocation/next: the Runtime API answered {}: {}", impl_->base, r->status,
                                   r->body));
  }
  if (r->request_id.empty()) {
    return Unavailable("GET /invocation/next: the answer has no Lambda-Runtime-Aws-Request-Id header");
  }
  Invocation inv;
  inv.request_id = std::move(r->request_id);
  inv.function_arn = std::move(r->function_arn);
  inv.trace_id = std::move(r->trace_id);
  inv.body = std::move(r->body);
  if (!r->deadline_ms.empty()) {
    char* end = nullptr;
    const long long v = std::strtoll(r->deadline_ms.c_str(), &end, 10);
    if (end == nullptr || *end != '\0' || v <= 0) {
      return Unavailable(fmt::format("GET /invocation/next: Lambda-Runtime-Deadline-Ms is not a number: {:?}",
                                     r->deadline_ms));
    }
    inv.deadline_ms = v;
  }
  return inv;
}

Status RuntimeClient::PostResponse(std::string_view request_id, std::string_view json) {
  return impl_->Post(fmt::format("/invocation/{}/response", request_id), std::string(json), "");
}

Status RuntimeClient::PostError(std::string_view request_id, const RuntimeError& error) {
  return impl_->Post(fmt::format("/invocation/{}/error", request_id), RuntimeErrorJson(error), error.type);
}

Status RuntimeClient::PostInitError(const RuntimeError& error) {
  return impl_->Post("/init/error", RuntimeErrorJson(error), error.type);
}

}  // namespace tradelake
