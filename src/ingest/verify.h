// VerifyBronze: proves what Bronze holds for a product, by reading it.
//
// Decodes every Bronze object of the product and checks that each line is
// intact, each trade id lies in its object's key range, ids ascend within an
// object, no id is stored twice, and every id between the first and the last
// is either stored or covered by a gap report; and that every object is
// announced in the product's landed-object log (bronze/landed_log.h), the
// only way the ETL finds it, and every entry names an existing object.
// Reports which gaps were closed by a repair and which are still open.
// A full scan of the product, on purpose. `tradelake verify` prints it;
// the ingest tests use it next to their own independent recount.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "ingest/gap_index.h"
#include "store/object_store.h"

namespace tradelake {

struct BronzeProductSummary {
  std::string product_id;
  int64_t objects = 0;
  int64_t bytes = 0;
  int64_t trades = 0;
  int64_t first_id = -1, last_id = -1;
  std::string first_time, last_time;        // as the exchange wrote them
  int64_t duplicates = 0;                   // ids stored more than once
  int64_t reported_gap_trades = 0;          // missing ids explained by gap reports
  std::vector<std::pair<int64_t, int64_t>> unexplained_missing;  // missing, no gap report
  std::vector<std::string> problems;        // corrupt objects, ids outside key ranges, ...
  // Gaps: ids of gap reports still missing from Bronze (open), the repairs
  // recorded (closed, ingest/gap_index.h) and the ingester's open-gap index
  // (its retry schedule).
  std::vector<std::pair<int64_t, int64_t>> open_gaps;
  std::vector<ClosedGap> closed_gaps;
  GapIndex gap_index;

  bool ok() const { return duplicates == 0 && unexplained_missing.empty() && problems.empty(); }
};

// Products that have Bronze objects in the lake, sorted.
Result<std::vector<std::string>> ListBronzeProducts(ObjectStore* store);

// Reads all of a product's Bronze. `ids` (optional) receives every stored id.
Result<BronzeProductSummary> VerifyBronze(ObjectStore* store, const std::string& product_id,
                                          std::vector<int64_t>* ids = nullptr);

}  // namespace tradelake
