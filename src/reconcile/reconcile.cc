#include "reconcile/reconcile.h"

#include <algorithm>
#include <chrono>
#include <iterator>
#include <optional>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "etl/dec18.h"
#include "etl/gold.h"
#include "etl/lease.h"
#include "etl/table_files.h"
#include "etl/table_io.h"
#include "etl/table_stats.h"
#include "table/catalog.h"

namespace tradelake {
namespace {

TimestampMicros FloorMinute(TimestampMicros t) { return PeriodStart(t, kMicrosPerMinute); }
TimestampMicros CeilMinute(TimestampMicros t) {
  const TimestampMicros f = FloorMinute(t);
  return f == t ? t : f + kMicrosPerMinute;
}

// The candle's five values, exactly; DataLoss naming the candle if one is not
// an exact decimal.
Result<Ohlcv> CandleValues(std::string_view product, const Candle& c) {
  Ohlcv v;
  const std::pair<const std::string*, Dec18*> fields[] = {
      {&c.open, &v.open}, {&c.high, &v.high}, {&c.low, &v.low}, {&c.close, &v.close}, {&c.volume, &v.volume}};
  for (const auto& [text, out] : fields) {
    Result<Dec18> d = CandleDecimal(*text);
    if (!d.ok()) {
      return DataLoss(fmt::format("{} candle {} {}: {}", product, FormatRfc3339Trimmed(c.start), c.raw,
                                  d.status().message()));
    }
    *out = *d;
  }
  return v;
}

// "trade ids 1201..1234 absent from Silver" for a run of minutes Gold lacks,
// from the Gold bars before and after it; "" if either neighbour is unknown
// or the ids are contiguous.
std::string GapBetween(const GoldBar* before, const GoldBar* after) {
  if (before == nullptr || after == nullptr) return "";
  const int64_t lo = before->last_trade_id + 1, hi = after->first_trade_id - 1;
  if (hi < lo) return "";
  return fmt::format("trade ids {}..{} ({}) absent from Silver: a Bronze gap or rejected records", lo, hi,
                     hi - lo + 1);
}

}  // namespace

std::pair<TimestampMicros, TimestampMicros> GoldCoverage(const LakeState& state, std::string_view product) {
  // The product's first and last day only: a lookup, however old the lake.
  auto ends = ProductEnds(state, kGoldBars1m, {std::string(product)});
  if (!ends.ok() || !ends->count(std::string(product))) return {0, 0};
  const ProductDays& days = ends->at(std::string(product));
  std::optional<TimestampMicros> first, last;
  for (const std::vector<TableFile>* files : {&days.first_day, &days.last_day}) {
    for (const TableFile& f : *files) {
      const auto lo = StatTime(f.stats.min_values, "period_start");
      const auto hi = StatTime(f.stats.max_values, "period_start");
      if (!lo || !hi) return {0, 0};  // without statistics: compare nothing rather than guess
      first = first ? std::min(*first, *lo) : *lo;
      last = last ? std::max(*last, *hi) : *hi;
    }
  }
  if (!first) return {0, 0};
  return {FloorMinute(*first) + kMicrosPerMinute, FloorMinute(*last)};
}

int64_t ReconcileReport::differences() const {
  int64_t n = 0;
  for (const auto& p : products) n += static_cast<int64_t>(p.differences.size());
  return n;
}

Result<Dec18> CandleDecimal(std::string_view text) {
  // JSON number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
  size_t i = 0;
  const bool negative = i < text.size() && text[i] == '-';
  if (negative) ++i;
  std::string digits;
  int64_t exponent = 0;  // value = digits * 10^exponent
  const size_t int_start = i;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') digits += text[i++];
  const bool int_ok = i > int_start && !(i - int_start > 1 && text[int_start] == '0');
  bool ok = int_ok;
  if (ok && i < text.size() && text[i] == '.') {
    const size_t frac_start = ++i;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') digits += text[i++];
    exponent -= static_cast<int64_t>(i - frac_start);
    ok = i > frac_start;
  }
  if (ok && i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    bool exp_negative = false;
    if (i < text.size() && (text[i] == '+' || text[i] == '-')) exp_negative = text[i++] == '-';
    const size_t exp_start = i;
    int64_t e = 0;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
      e = std::min<int64_t>(e * 10 + (text[i++] - '0'), 1'000'000);
    }
    ok = i > exp_start;
    exponent += exp_negative ? -e : e;
  }
  if (!ok || i != text.size()) return InvalidArgument(fmt::format("{:?} is not a JSON number", text));
  // Drop leading zeros and trailing zeros (raising the exponent), then place
  // the point at scale 18.
  size_t lead = 0;
  while (lead + 1 < digits.size() && digits[lead] == '0') ++lead;
  digits.erase(0, lead);
  while (digits.size() > 1 && digits.back() == '0') {
    digits.pop_back();
    ++exponent;
  }
  if (digits == "0") return Dec18{0};
  const int64_t scale_shift = exponent + kSilverScale;  // unscaled = digits * 10^scale_shift
  if (scale_shift < 0) {
    return InvalidArgument(fmt::format("{:?} needs more than {} fractional digits", text, kSilverScale));
  }
  if (static_cast<int64_t>(digits.size()) + scale_shift > 38) {
    return InvalidArgument(fmt::format("{:?} has more than 20 integer digits", text));
  }
  Dec18 v = 0;
  for (char c : digits) v = v * 10 + (c - '0');
  for (int64_t k = 0; k < scale_shift; ++k) v *= 10;
  return negative ? -v : v;
}

ReconRow CompareMinute(std::string_view product_id, TimestampMicros minute, const GoldBar* bar,
                       const Candle* candle, std::string_view gap, TimestampMicros now) {
  ReconRow row;
  row.product_id = std::string(product_id);
  row.minute = minute;
  row.reconciled_at = now;
  if (bar != nullptr) {
    row.gold = Ohlcv{bar->open, bar->high, bar->low, bar->close, bar->total_volume};
    row.gold_trade_count = bar->trade_count;
  }
  if (candle != nullptr) row.candle = candle->raw;
  std::optional<Ohlcv> exchange;
  if (candle != nullptr) {
    Result<Ohlcv> v = CandleValues(product_id, *candle);
    if (v.ok()) exchange = *v;  // a candle that is not exact is reported by the caller first
  }
  row.exchange = exchange;
  if (bar == nullptr) {
    row.status = std::string(kReconMissingInGold);
    row.detail = gap.empty() ? "the exchange has trades in this minute that Silver lacks" : std::string(gap);
    return row;
  }
  if (candle == nullptr) {
    row.status = std::string(kReconMissingOnExchange);
    row.detail = fmt::format("{} trades in Gold, no candle from the exchange", bar->trade_count);
    return row;
  }
  std::vector<std::string> diffs;
  const Ohlcv& g = *row.gold;
  const Ohlcv& e = *row.exchange;
  const std::pair<const char*, std::pair<Dec18, Dec18>> fields[] = {{"open", {g.open, e.open}},
                                                                    {"high", {g.high, e.high}},
                                                                    {"low", {g.low, e.low}},
                                                                    {"close", {g.close, e.close}},
                                                                    {"volume", {g.volume, e.volume}}};
  for (const auto& [name, values] : fields) {
    if (values.first != values.second) {
      diffs.push_back(fmt::format("{} gold {} exchange {}", name, Dec18ToString(values.first),
                                  Dec18ToString(values.second)));
    }
  }
  if (diffs.empty()) {
    row.status = std::string(kReconMatch);
    return row;
  }
  row.status = std::string(kReconDiffers);
  const int64_t span = bar->last_trade_id - bar->first_trade_id + 1;
  if (span > bar->trade_count) {
    diffs.push_back(fmt::format("{} of trade ids {}..{} absent from Silver", span - bar->trade_count,
                                bar->first_trade_id, bar->last_trade_id));
  }
  for (size_t i = 0; i < diffs.size(); ++i) row.detail += (i ? "; " : "") + diffs[i];
  return row;
}

Result<ReconcileReport> Reconcile(ObjectStore* store, CoinbaseClient* client, const ReconcileOptions& options) {
  const auto started = std::chrono::steady_clock::now();
  const TimestampMicros now = options.now ? options.now : NowMicros();
  const TimestampMicros from = FloorMinute(options.from);
  const TimestampMicros to = CeilMinute(options.to);
  if (to <= from) {
    return InvalidArgument(fmt::format("nothing to reconcile: --to {} is not after --from {}", FormatRfc3339Trimmed(to),
                                       FormatRfc3339Trimmed(from)));
  }
  if (options.products.empty()) return InvalidArgument("no products to reconcile");
  // Closed and final: minutes that ended at least min_age ago.
  const TimestampMicros final_end = std::clamp(FloorMinute(now - options.min_age), from, to);

  LakeState loaded;
  if (options.state == nullptr) {
    ASSIGN_OR_RETURN(loaded, LoadLakeState(store));
  }
  const LakeState& state = options.state != nullptr ? *options.state : loaded;
  StagingDir staging("reconcile");
  ReconcileReport report;
  std::map<std::string, std::vector<ReconRow>> rows_by_partition;  // "product\0date" -> rows

  for (const std::string& product : options.products) {
    RETURN_IF_ERROR(ValidateProductId(product));
    ProductReconciliation pr;
    pr.product_id = product;
    pr.not_final = (to - final_end) / kMicrosPerMinute;
    // Only the minutes Gold holds completely, unless asked for all.
    TimestampMicros lo = from, hi = final_end;
    if (options.only_complete_minutes) {
      const auto [gold_first, gold_end] = GoldCoverage(state, product);
      lo = std::clamp(gold_first, from, final_end);
      hi = std::clamp(gold_end, lo, final_end);
      pr.outside_gold = (lo - from + final_end - hi) / kMicrosPerMinute;
    }
    // Gold: the days of [from, final_end), whole files (a file per day).
    std::map<TimestampMicros, GoldBar> bars;
    if (hi > lo) {
      ASSIGN_OR_RETURN(std::vector<TableFile> gold_files,
                       LiveFilesInRange(state, kGoldBars1m, {product}, FormatDate(lo), FormatDate(hi - 1)));
      for (const TableFile& f : gold_files) {
        ASSIGN_OR_RETURN(std::vector<GoldBar> day, ReadRowsAt(store, f.key, ReadGoldBars, &staging));
        for (GoldBar& b : day) bars[b.period_start] = std::move(b);
      }
    }
    // The exchange: kMaxCandlesPerRequest minutes per request.
    std::map<TimestampMicros, Candle> candles;
    for (TimestampMicros start = lo; start < hi; start += int64_t{kMaxCandlesPerRequest} * kMicrosPerMinute) {
      if (options.stop && options.stop->load()) return Cancelled("stopped; nothing was committed");
      const TimestampMicros end = std::min(hi, start + int64_t{kMaxCandlesPerRequest} * kMicrosPerMinute);
      ++pr.requests;
      ASSIGN_OR_RETURN(std::vector<Candle> got, client->GetCandles(product, start, end));
      for (Candle& c : got) {
        RETURN_IF_ERROR(CandleValues(product, c).status());
        candles[c.start] = std::move(c);
      }
    }
    // Compare every minute either side has.
    std::vector<TimestampMicros> minutes;
    for (const auto& [m, b] : bars) {
      if (m >= lo && m < hi) minutes.push_back(m);
    }
    for (const auto& [m, c] : candles) minutes.push_back(m);
    std::sort(minutes.begin(), minutes.end());
    minutes.erase(std::unique(minutes.begin(), minutes.end()), minutes.end());
    for (TimestampMicros m : minutes) {
      auto b = bars.find(m);
      auto c = candles.find(m);
      const GoldBar* bar = b == bars.end() ? nullptr : &b->second;
      const Candle* candle = c == candles.end() ? nullptr : &c->second;
      std::string gap;
      if (bar == nullptr) {
        auto after = bars.lower_bound(m);
        const GoldBar* next = after == bars.end() ? nullptr : &after->second;
        const GoldBar* prev = after == bars.begin() ? nullptr : &std::prev(after)->second;
        gap = GapBetween(prev, next);
      }
      ReconRow row = CompareMinute(product, m, bar, candle, gap, now);
      ++pr.compared;
      if (row.status == kReconMatch) {
        ++pr.matched;
      } else {
        if (row.status == kReconDiffers) ++pr.differs;
        if (row.status == kReconMissingInGold) ++pr.missing_in_gold;
        if (row.status == kReconMissingOnExchange) ++pr.missing_on_exchange;
        pr.differences.push_back(row);
      }
      rows_by_partition[product + '\0' + FormatDate(m)].push_back(std::move(row));
    }
    report.requests += pr.requests;
    report.products.push_back(std::move(pr));
  }

  if (options.commit && !rows_by_partition.empty()) {
    // The commit, under the ETL lease: files, then the catalog, then Delta.
    LeaseOptions lease_options;
    lease_options.ttl_micros = LeaseKeeper::kLeaseTtl;
    ASSIGN_OR_RETURN(auto lease, EtlLease::Acquire(store, lease_options));
    LeaseKeeper keeper(std::move(lease));
    ASSIGN_OR_RETURN(Snapshot base, LoadCurrentSnapshot(store));
    if (base.legacy != nullptr) {
      return FailedPrecondition("the lake is from before Delta tables; run `tradelake etl` once first");
    }
    RETURN_IF_ERROR(RollForward(store, base));
    Snapshot next = base;
    next.seq = base.seq + 1;
    next.commit_text.clear();
    next.committed_at = NowMicros();
    const std::string table(kAuditReconciliation);
    DeltaCommit commit;
    commit.timestamp = next.committed_at / 1000;
    commit.operation = "WRITE";
    commit.operation_parameters = {{"tradelake_reconcile_seq", std::to_string(next.seq)}};
    commit.txn = std::pair{std::string("tradelake-reconcile"), next.seq};
    if (!base.versions.contains(table)) {
      commit.protocol = DeltaProtocol{};
      commit.metadata = DeltaMetadataFor(table, commit.timestamp);
    }
    std::vector<std::string> written;
    auto cleanup = [&] {
      for (const std::string& key : written) (void)store->Delete(key);
    };
    for (const auto& [partition_key, rows] : rows_by_partition) {
      const size_t sep = partition_key.find('\0');
      const std::string product = partition_key.substr(0, sep), date = partition_key.substr(sep + 1);
      const std::string key = fmt::format("{}{}/part-{:08d}-{}.parquet", TableFolder(table),
                                          PartitionName(product, date), next.seq, RandomFileTag());
      Status s = WriteRowsAt(store, key, rows, WriteReconRows, &staging);
      if (!s.ok()) {
        cleanup();
        return s;
      }
      written.push_back(key);
      Result<DeltaAddFile> add = AddFileFor(store, table, key, StatsOf(rows));
      if (!add.ok()) {
        cleanup();
        return add.status();
      }
      commit.adds.push_back(std::move(*add));
      report.rows_written += static_cast<int64_t>(rows.size());
    }
    next.commits[table] = std::move(commit);
    if (Status held = keeper.StopAndCheck(); !held.ok()) {
      cleanup();
      return held.WithContext("before committing the reconciliation");
    }
    Status committed = CommitLake(store, &next);
    if (committed.code() == StatusCode::kFailedPrecondition) cleanup();  // certainly not committed
    RETURN_IF_ERROR(committed);
    report.seq = next.seq;
  }
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return report;
}

}  // namespace tradelake
