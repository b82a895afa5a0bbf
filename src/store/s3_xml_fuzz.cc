// libFuzzer target: S3's XML answers come from the network, so the parser
// must never crash, loop or recurse without bound on arbitrary bytes; a
// document it accepts is a tree no deeper than its limit, and decoding a
// listed key either fails cleanly or never grows the text.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "store/s3_store.h"

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

int Depth(const tradelake::s3_internal::XmlElement& e) {
  int deepest = 0;
  for (const auto& child : e.children) deepest = std::max(deepest, Depth(child));
  return deepest + 1;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto doc = tradelake::s3_internal::ParseXml(text);
  if (doc.ok()) {
    Check(Depth(*doc) <= 65);  // the documented limit is 64 levels below the root
    (void)doc->ChildText("Key");
    (void)doc->Child("Contents");
  } else {
    Check(doc.status().code() == tradelake::StatusCode::kInvalidArgument);
  }
  auto decoded = tradelake::s3_internal::UrlDecodeS3(text);
  if (decoded.ok()) Check(decoded->size() <= text.size());
  return 0;
}
