#include "pipeline/json_text.h"

namespace tradelake::pipeline_internal {
namespace {

void Append(const nlohmann::ordered_json& v, std::string* out) {
  if (v.is_object()) {
    out->push_back('{');
    bool first = true;
    for (const auto& [key, item] : v.items()) {
      if (!first) out->append(", ");
      first = false;
      Append(nlohmann::ordered_json(key), out);
      out->append(": ");
      Append(item, out);
    }
    out->push_back('}');
  } else if (v.is_array()) {
    out->push_back('[');
    bool first = true;
    for (const auto& item : v) {
      if (!first) out->append(", ");
      first = false;
      Append(item, out);
    }
    out->push_back(']');
  } else {
    out->append(v.dump(-1, ' ', /*ensure_ascii=*/false, nlohmann::json::error_handler_t::replace));
  }
}

}  // namespace

std::string SpacedJson(const nlohmann::ordered_json& value) {
  std::string out;
  Append(value, &out);
  return out;
}

}  // namespace tradelake::pipeline_internal
