// Delta `add` statistics (numRecords, minValues, maxValues, nullCount) of the
// rows of a table file, as Spark writes them: strings and dates as JSON
// strings, timestamps as ISO-8601 UTC with milliseconds (truncated),
// decimals exactly (Dec18ToString), integers as numbers. Readers use them
// to skip files (trade_id ranges, period_start ranges, product, dates).
#pragma once

#include <vector>

#include "etl/rows.h"
#include "table/delta_log.h"

namespace tradelake {

DeltaStats StatsOf(const std::vector<SilverTrade>& rows);
DeltaStats StatsOf(const std::vector<GoldBar>& rows);
DeltaStats StatsOf(const std::vector<RejectedRecord>& rows);
DeltaStats StatsOf(const std::vector<QualityRow>& rows);
DeltaStats StatsOf(const std::vector<ReconRow>& rows);

}  // namespace tradelake
