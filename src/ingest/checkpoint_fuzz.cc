// libFuzzer target: a checkpoint object is read back from the lake, where
// anything may have been written to it. LoadCheckpoint must accept it or
// fail with DataLoss (never crash or throw); what it accepts must save and
// load back to the same checkpoint.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "ingest/checkpoint.h"

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tradelake;
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto store = NewMemoryStore();
  const std::string product = "BTC-USD";
  Check(store->Put(CheckpointKey(product), text, WriteMode::kOverwrite).ok());
  auto cp = LoadCheckpoint(store.get(), product);
  if (!cp.ok()) {
    Check(cp.status().code() == StatusCode::kDataLoss);
    return 0;
  }
  Check(cp->has_value());
  const Checkpoint& first = **cp;
  Check(first.product_id == product);
  Check(SaveCheckpoint(store.get(), first).ok());
  auto again = LoadCheckpoint(store.get(), product);
  Check(again.ok() && again->has_value());
  const Checkpoint& second = **again;
  Check(second.low == first.low && second.high == first.high && second.high_time == first.high_time &&
        second.updated_at == first.updated_at && second.landed_next_seq == first.landed_next_seq &&
        second.backfill.has_value() == first.backfill.has_value());
  if (first.backfill) {
    Check(second.backfill->from == first.backfill->from && second.backfill->next == first.backfill->next &&
          second.backfill->landed_time == first.backfill->landed_time);
  }
  return 0;
}
