#include "lambda/event.h"

#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/text.h"

namespace tradelake {

std::string_view StepActionName(StepAction action) {
  switch (action) {
    case StepAction::kStep: return "step";
    case StepAction::kIngest: return "ingest";
    case StepAction::kEtl: return "etl";
    case StepAction::kCompact: return "compact";
    case StepAction::kReconcile: return "reconcile";
  }
  return "?";
}

namespace {

constexpr std::string_view kAccepted =
    "expected a scheduled event, {} or {\"action\": \"step\"|\"ingest\"|\"etl\"|\"compact\"|\"reconcile\"}";

Result<StepAction> ParseAction(const std::string& name) {
  for (StepAction a : {StepAction::kStep, StepAction::kIngest, StepAction::kEtl, StepAction::kCompact,
                       StepAction::kReconcile}) {
    if (StepActionName(a) == name) return a;
  }
  return InvalidArgument(fmt::format("unknown action {:?}; {}", name, kAccepted));
}

}  // namespace

Result<LambdaEvent> ParseLambdaEvent(std::string_view body) {
  LambdaEvent e;
  std::string_view trimmed = body;
  while (!trimmed.empty() && std::isspace(static_cast<unsigned char>(trimmed.front()))) trimmed.remove_prefix(1);
  while (!trimmed.empty() && std::isspace(static_cast<unsigned char>(trimmed.back()))) trimmed.remove_suffix(1);
  if (trimmed.empty() || trimmed == "null") return e;
  nlohmann::json j = nlohmann::json::parse(trimmed, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return InvalidArgument(fmt::format("the event is not JSON; {}", kAccepted));
  if (!j.is_object()) return InvalidArgument(fmt::format("the event is not a JSON object; {}", kAccepted));
  // EventBridge rules and Scheduler's templated targets send their own
  // envelope; its fields are AWS's, not ours, so they are not checked.
  if (j.contains("detail-type") || (j.contains("source") && j["source"] == "aws.events")) {
    if (!j.contains("detail-type") || j["detail-type"] != "Scheduled Event") {
      return InvalidArgument(fmt::format("an EventBridge event that is not a \"Scheduled Event\"; {}", kAccepted));
    }
    e.scheduled = true;
    return e;
  }
  static const std::set<std::string> kKeys = {"action", "products", "since"};
  for (const auto& [k, v] : j.items()) {
    if (!kKeys.count(k)) {
      return InvalidArgument(fmt::format("unknown key {:?} in the event; accepted keys: action, products, since", k));
    }
  }
  if (j.contains("action")) {
    if (!j["action"].is_string()) return InvalidArgument("\"action\" must be a string");
    auto a = ParseAction(j["action"].get<std::string>());
    if (!a.ok()) return a.status();
    e.action = *a;
  }
  if (j.contains("products")) {
    const auto& p = j["products"];
    if (p.is_string()) {
      e.products = SplitCommaList(p.get<std::string>());
    } else if (p.is_array()) {
      for (const auto& x : p) {
        if (!x.is_string()) return InvalidArgument("\"products\" must be strings, e.g. [\"BTC-USD\"]");
        e.products.push_back(x.get<std::string>());
      }
    } else {
      return InvalidArgument("\"products\" must be an array of ids or a comma-separated string");
    }
    if (e.products.empty()) return InvalidArgument("\"products\" is empty; leave it out for the configured products");
  }
  if (j.contains("since")) {
    if (!j["since"].is_string()) return InvalidArgument("\"since\" must be a string such as \"6h\"");
    if (e.action == StepAction::kEtl || e.action == StepAction::kCompact) {
      return InvalidArgument("\"since\" applies to the step, ingest and reconcile actions only");
    }
    e.since = j["since"].get<std::string>();
  }
  return e;
}

Result<std::string> EmfLine(std::string_view name_space, const std::map<std::string, std::string>& dimensions,
                            const std::vector<EmfMetric>& metrics,
                            const std::map<std::string, std::string>& properties, int64_t timestamp_ms) {
  nlohmann::json root = nlohmann::json::object();
  std::set<std::string> names;
  auto claim = [&](const std::string& n) -> Status {
    if (n.empty() || n == "_aws" || !names.insert(n).second) {
      return InvalidArgument(fmt::format("EMF member name {:?} is empty, reserved or used twice", n));
    }
    return Status::OK();
  };
  nlohmann::json dims = nlohmann::json::array();
  for (const auto& [k, v] : dimensions) {
    if (Status s = claim(k); !s.ok()) return s;
    dims.push_back(k);
    root[k] = v;
  }
  nlohmann::json defs = nlohmann::json::array();
  for (const auto& m : metrics) {
    if (Status s = claim(m.name); !s.ok()) return s;
    defs.push_back({{"Name", m.name}, {"Unit", m.unit}});
    root[m.name] = m.value;
  }
  for (const auto& [k, v] : properties) {
    if (Status s = claim(k); !s.ok()) return s;
    root[k] = v;
  }
  root["_aws"] = {{"Timestamp", timestamp_ms},
                  {"CloudWatchMetrics",
                   nlohmann::json::array({{{"Namespace", std::string(name_space)},
                                           {"Dimensions", nlohmann::json::array({dims})},
                                           {"Metrics", defs}}})}};
  return root.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace tradelake
