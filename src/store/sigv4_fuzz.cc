// libFuzzer target: URI encoding and request canonicalization must never
// crash on arbitrary input, and what they produce must keep the properties
// the signature relies on: the encoding is reversible and uses only
// unreserved characters, and a canonical request is either refused with
// InvalidArgument or has exactly the six lines' structure (no smuggled line).
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "store/sigv4.h"

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

bool IsUnreservedOrPercent(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.' || c == '~' || c == '%';
}

std::string Decode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%') {
      out.push_back(static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

// Next field of `input`, up to the next '\x01' (so fields may hold newlines).
std::string_view NextField(std::string_view* input) {
  const size_t end = input->find('\x01');
  const std::string_view field = input->substr(0, end);
  *input = end == std::string_view::npos ? std::string_view() : input->substr(end + 1);
  return field;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tradelake;
  using namespace tradelake::sigv4;
  std::string_view input(reinterpret_cast<const char*>(data), size);

  const std::string encoded = UriEncode(input, /*encode_slash=*/true);
  Check(std::all_of(encoded.begin(), encoded.end(), IsUnreservedOrPercent));
  Check(Decode(encoded) == input);
  const std::string path_encoded = UriEncode(input, /*encode_slash=*/false);
  Check(Decode(path_encoded) == input);

  // Fields: method, path, query name, query value, then header name/value pairs.
  SigningRequest request;
  request.method = std::string(NextField(&input));
  request.path = std::string(NextField(&input));
  const std::string_view qname = NextField(&input);
  request.query.push_back({std::string(qname), std::string(NextField(&input))});
  request.headers.push_back({"Host", "example.amazonaws.com"});
  while (!input.empty()) {
    const std::string_view name = NextField(&input);
    request.headers.push_back({std::string(name), std::string(NextField(&input))});
  }

  SigningParams params;
  params.credentials = {"AKIDEXAMPLE", "secret", std::nullopt};
  params.amz_date = "20150830T123600Z";
  params.region = "us-east-1";
  params.service = "s3";
  for (const bool generic : {false, true}) {
    params.normalize_path = generic;
    params.double_encode_path = generic;
    Result<std::string> creq = CanonicalRequest(request, params);
    if (!creq.ok()) {
      Check(creq.status().code() == StatusCode::kInvalidArgument);
      continue;
    }
    // method, URI, query, one line per distinct signed header, the empty
    // line, signed headers, payload hash.
    const auto newlines = static_cast<size_t>(std::count(creq->begin(), creq->end(), '\n'));
    Result<SignedRequest> signed_request = Sign(request, params);
    if (!signed_request.ok()) {  // e.g. an X-Amz-Date header that contradicts params
      Check(signed_request.status().code() == StatusCode::kInvalidArgument);
      continue;
    }
    const std::string& signed_headers = signed_request->signed_headers;
    const auto header_count =
        static_cast<size_t>(std::count(signed_headers.begin(), signed_headers.end(), ';')) + 1;
    // Sign() added x-amz-date and x-amz-content-sha256 unless present.
    Check(newlines >= 5 && newlines <= header_count + 5);
  }
  return 0;
}
