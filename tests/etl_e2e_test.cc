// End-to-end: Bronze -> Silver -> Gold through the real `tradelake` binary.
// Expected values are recomputed here from the Bronze JSON with arithmetic
// written for this test (not the ETL's), and tables are read back with plain
// DuckDB SQL over the files the catalog lists.
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>

#include "e2e_util.h"
#include "table/catalog.h"
#include "exchange/simulator.h"
#include "bronze/bronze.h"
#include "bronze/landed_log.h"
#include "query/duckdb.h"
#include "store/object_store.h"

namespace tradelake {
namespace {

using e2e::FreshDir;
using e2e::RunTradelake;
namespace fs = e2e::fs;

// ---- independent exact arithmetic: decimal text <-> int128 at scale 18 ----
using I128 = __int128;
constexpr int kScale = 18;

I128 Pow10(int n) {
  I128 v = 1;
  while (n-- > 0) v *= 10;
  return v;
}

// "65000.01" -> 65000010000000000000000 (x 10^18). Test data is always valid.
I128 ToScaled(const std::string& s) {
  bool neg = !s.empty() && s[0] == '-';
  I128 v = 0;
  int frac = -1;
  for (size_t i = neg ? 1 : 0; i < s.size(); ++i) {
    if (s[i] == '.') {
      frac = 0;
      continue;
    }
    v = v * 10 + (s[i] - '0');
    if (frac >= 0) ++frac;
  }
  v *= Pow10(kScale - std::max(frac, 0));
  return neg ? -v : v;
}

// Canonical text: trailing fractional zeros and a bare '.' removed.
std::string FromScaled(I128 v) {
  const bool neg = v < 0;
  if (neg) v = -v;
  std::string digits;
  do {
    digits.insert(digits.begin(), static_cast<char>('0' + static_cast<int>(v % 10)));
    v /= 10;
  } while (v > 0);
  while (digits.size() <= kScale) digits.insert(digits.begin(), '0');
  std::string out = digits.substr(0, digits.size() - kScale) + "." + digits.substr(digits.size() - kScale);
  while (out.back() == '0') out.pop_back();
  if (out.back() == '.') out.pop_back();
  return (neg ? "-" : "") + out;
}

std::string Canonical(const std::string& decimal_text) { return FromScaled(ToScaled(decimal_text)); }

// a / b rounded half away from zero to 18 digits, by schoolbook division on
// decimal digit strings of a * 10^18 (no 128-bit product needed).
std::string DivideRounded(I128 a, I128 b) {
  const bool neg = (a < 0) != (b < 0);
  if (a < 0) a = -a;
  if (b < 0) b = -b;
  std::string num = FromScaled(a);  // canonical text of a / 10^18
  // Work with a / b = (A / 10^18) / (B / 10^18) = A / B; produce 19 fractional digits.
  I128 q_int = a / b, rem = a % b;
  std::string frac;
  for (int i = 0; i < kScale + 1; ++i) {
    // rem < b <= ~1e37, so rem * 10 fits.
    rem *= 10;
    frac.push_back(static_cast<char>('0' + static_cast<int>(rem / b)));
    rem %= b;
  }
  (void)num;
  I128 scaled = q_int * Pow10(kScale);
  for (int i = 0; i < kScale; ++i) scaled += (frac[static_cast<size_t>(i)] - '0') * Pow10(kScale - 1 - i);
  if (frac[kScale] >= '5') scaled += 1;  // half away from zero (magnitude)
  return FromScaled(neg ? -scaled : scaled);
}

struct Trade {
  int64_t id;
  I128 price, size;
  std::string side;  // maker side as published
  std::string time;
  int64_t micros;
};

struct Bar {
  int64_t count = 0;
  I128 sum_price = 0, volume = 0, quote = 0, buy = 0, sell = 0, high = 0, low = 0;
  int64_t first_id = 0, last_id = 0;
  I128 open = 0, close = 0;
};

// Reads all Bronze trades of a product straight from the files.
std::map<int64_t, Trade> BronzeTrades(const fs::path& lake, const std::string& product) {
  std::string error;
  auto landed = e2e::ReadBronze(lake, product, &error);
  EXPECT_TRUE(error.empty()) << error;
  std::map<int64_t, Trade> out;
  simdjson::dom::parser parser;
  for (const auto& [id, copies] : landed) {
    simdjson::dom::element doc;
    EXPECT_EQ(parser.parse(copies[0].raw).get(doc), simdjson::SUCCESS);
    Trade t;
    t.id = id;
    t.price = ToScaled(std::string(doc["price"].get_string().value()));
    t.size = ToScaled(std::string(doc["size"].get_string().value()));
    t.side = std::string(doc["side"].get_string().value());
    t.time = std::string(doc["time"].get_string().value());
    // Seconds from the text, fraction padded to micros: independent of core/time.
    std::tm tm{};
    strptime(t.time.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
    int64_t frac = 0;
    const size_t dot = t.time.find('.');
    if (dot != std::string::npos) {
      std::string f = t.time.substr(dot + 1, t.time.size() - dot - 2);
      f.resize(6, '0');
      frac = std::stoll(f);
    }
    t.micros = static_cast<int64_t>(timegm(&tm)) * 1'000'000 + frac;
    out[id] = t;
  }
  return out;
}

std::map<int64_t, Bar> ExpectedBars(const std::map<int64_t, Trade>& trades, int64_t period) {
  std::map<int64_t, Bar> bars;
  for (const auto& [id, t] : trades) {  // ascending trade id
    const int64_t start = t.micros / period * period;  // all test times are after 1970
    Bar& b = bars[start];
    if (b.count == 0) {
      b.first_id = id;
      b.open = t.price;
      b.high = b.low = t.price;
    }
    ++b.count;
    b.sum_price += t.price;
    b.volume += t.size;
    // price * size at scale 36 overflows 128 bits; simulator prices and sizes
    // have at most 8 decimals, so multiply at scale 8 + 8 and rescale to 18.
    const I128 p8 = t.price / Pow10(kScale - 8), s8 = t.size / Pow10(kScale - 8);
    EXPECT_EQ(p8 * Pow10(kScale - 8), t.price);
    EXPECT_EQ(s8 * Pow10(kScale - 8), t.size);
    b.quote += p8 * s8 * Pow10(kScale - 16);
    (t.side == "sell" ? b.buy : b.sell) += t.size;  // maker sold => taker bought
    b.high = std::max(b.high, t.price);
    b.low = std::min(b.low, t.price);
    b.last_id = id;
    b.close = t.price;
  }
  return bars;
}

// SQL over the committed files of a table, rows as text.
std::vector<std::vector<std::string>> Query(const fs::path& lake, std::string_view table, const std::string& select,
                                            const std::string& order_by) {
  auto store = OpenLocalStore(lake.string());
  EXPECT_TRUE(store.ok());
  auto state = LoadLakeState(store->get());
  EXPECT_TRUE(state.ok()) << state.status().ToString();
  std::string files;
  if (state.ok()) {
    auto live = LiveFiles(*state, table);
    EXPECT_TRUE(live.ok()) << live.status().ToString();
    if (live.ok()) {
      for (const auto& f : *live) files += (files.empty() ? "'" : ",'") + (lake / f.key).string() + "'";
    }
  }
  std::vector<std::vector<std::string>> rows;
  if (files.empty()) return rows;
  auto db = Database::Open(":memory:");
  EXPECT_TRUE(db.ok());
  auto con = (*db)->Connect();
  EXPECT_TRUE(con.ok());
  const std::string sql = "SELECT " + select + " FROM read_parquet([" + files + "]) ORDER BY " + order_by;
  auto r = con->Query(sql);
  EXPECT_TRUE(r.ok()) << r.status().ToString() << "\n" << sql;
  if (!r.ok()) return rows;
  for (uint64_t i = 0; i < r->row_count(); ++i) {
    std::vector<std::string> row;
    for (uint64_t c = 0; c < r->column_count(); ++c) row.push_back(r->GetStringOr(i, c, "NULL"));
    rows.push_back(std::move(row));
  }
  return rows;
}

std::unique_ptr<Simulator> StartSim(SimulatorOptions o) {
  auto sim = Simulator::Start(std::move(o));
  EXPECT_TRUE(sim.ok()) << sim.status().ToString();
  return sim.ok() ? std::move(sim).value() : nullptr;
}

void Ingest(const Simulator& sim, const fs::path& lake, const fs::path& dir, const std::string& products,
            const std::vector<std::string>& extra = {}) {
  std::vector<std::string> args = {"ingest", "--products", products, "--exchange-url", sim.url(), "--lake",
                                   lake.string(), "--no-progress", "--rate-limit", "0", "--log-level", "warn"};
  args.insert(args.end(), extra.begin(), extra.end());
  auto r = RunTradelake(args, dir);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
}

// Gold decimals come back from DuckDB as text like "65000.010000000000000000".
std::string Canon(const std::string& duck) { return Canonical(duck); }

TEST(EtlE2E, GoldEqualsAnIndependentRecomputationForAMillionTrades) {
  SimulatorOptions o;
  o.products = {"BTC-USD", "ETH-USD", "SOL-USD"};
  o.seed = 99;
  o.history_micros = 30 * kMicrosPerHour;  // crosses at least one midnight
  o.trades_per_second = 3.2;               // ~346k per product
  o.live = false;
  o.rate_limit = false;
  auto sim = StartSim(o);
  ASSERT_NE(sim, nullptr);
  const auto dir = FreshDir("etl-exact");
  const auto lake = dir / "lake";
  Ingest(*sim, lake, dir, "BTC-USD,ETH-USD,SOL-USD", {"--from-trade-id", "0"});
  auto etl = RunTradelake({"etl", "--lake", lake.string()}, dir);
  ASSERT_EQ(etl.exit_code, 0) << etl.out << etl.err;
  EXPECT_NE(etl.out.find("invariant holds"), std::string::npos) << etl.out;

  int64_t total = 0;
  for (const std::string product : {"BTC-USD", "ETH-USD", "SOL-USD"}) {
    const auto trades = BronzeTrades(lake, product);
    total += static_cast<int64_t>(trades.size());
    // Silver: every price and size equals the Bronze text's value exactly.
    const auto silver = Query(lake, kSilverTrades, "trade_id, price::VARCHAR, size::VARCHAR, side, taker_side",
                              "trade_id");
    std::map<int64_t, const std::vector<std::string>*> by_id;
    for (const auto& row : silver) by_id[std::stoll(row[0])] = &row;
    int64_t checked = 0;
    simdjson::dom::parser parser;
    std::string error;
    for (const auto& [id, copies] : e2e::ReadBronze(lake, product, &error)) {
      auto it = by_id.find(id);
      ASSERT_NE(it, by_id.end()) << product << " trade " << id << " missing from Silver";
      simdjson::dom::element doc;
      ASSERT_EQ(parser.parse(copies[0].raw).get(doc), simdjson::SUCCESS);
      const auto& row = *it->second;
      ASSERT_EQ(Canon(row[1]), Canonical(std::string(doc["price"].get_string().value()))) << id;
      ASSERT_EQ(Canon(row[2]), Canonical(std::string(doc["size"].get_string().value()))) << id;
      ASSERT_EQ(row[3], std::string(doc["side"].get_string().value()));
      ASSERT_EQ(row[4], row[3] == "buy" ? "sell" : "buy");
      ++checked;
    }
    EXPECT_EQ(checked, static_cast<int64_t>(trades.size()));

    for (auto [table, period] : {std::pair{kGoldHourly, kMicrosPerHour}, std::pair{kGoldDaily, kMicrosPerDay},
                                 std::pair{kGoldBars1m, kMicrosPerMinute}}) {
      const auto expected = ExpectedBars(trades, period);
      const auto rows = Query(lake, table,
                              "epoch_us(period_start), trade_count, avg_price::VARCHAR, total_volume::VARCHAR, "
                              "quote_volume::VARCHAR, vwap::VARCHAR, open::VARCHAR, high::VARCHAR, low::VARCHAR, "
                              "close::VARCHAR, buy_volume::VARCHAR, sell_volume::VARCHAR, first_trade_id, "
                              "last_trade_id",
                              "period_start");
      std::vector<std::vector<std::string>> mine;
      for (const auto& row : rows) mine.push_back(row);
      // Only this product's rows: filter by first_trade_id membership.
      std::vector<std::vector<std::string>> ours;
      for (auto& row : mine) {
        if (trades.contains(std::stoll(row[12]))) ours.push_back(row);
      }
      ASSERT_EQ(ours.size(), expected.size()) << product << " " << table;
      size_t i = 0;
      for (const auto& [start, b] : expected) {
        const auto& row = ours[i++];
        SCOPED_TRACE(std::string(table) + " " + product + " period " + std::to_string(start));
        ASSERT_EQ(std::stoll(row[0]), start);
        ASSERT_EQ(std::stoll(row[1]), b.count);
        ASSERT_EQ(Canon(row[2]), DivideRounded(b.sum_price, static_cast<I128>(b.count) * Pow10(kScale)));
        ASSERT_EQ(Canon(row[3]), FromScaled(b.volume));
        ASSERT_EQ(Canon(row[4]), FromScaled(b.quote));
        ASSERT_EQ(Canon(row[5]), DivideRounded(b.quote, b.volume));
        ASSERT_EQ(Canon(row[6]), FromScaled(b.open));
        ASSERT_EQ(Canon(row[7]), FromScaled(b.high));
        ASSERT_EQ(Canon(row[8]), FromScaled(b.low));
        ASSERT_EQ(Canon(row[9]), FromScaled(b.close));
        ASSERT_EQ(Canon(row[10]), FromScaled(b.buy));
        ASSERT_EQ(Canon(row[11]), FromScaled(b.sell));
        ASSERT_EQ(std::stoll(row[12]), b.first_id);
        ASSERT_EQ(std::stoll(row[13]), b.last_id);
      }
    }
  }
  EXPECT_GE(total, 1'000'000);
}

// Lands a hand-made Bronze object (what a broken exchange or a buggy
// ingester could have left) the way ingest does: the object, then its entry
// in the product's landed-object log, which is how the ETL finds it.
// `next_seq` holds each product's next log seq.
void PutBronze(ObjectStore* store, std::map<std::string, int64_t>* next_seq, const std::string& product,
               const std::string& date, int64_t first, int64_t last,
               const std::vector<std::pair<int64_t, std::string>>& raws, const std::string& request = "") {
  std::vector<BronzeRecord> recs;
  for (const auto& [id, raw] : raws) recs.push_back({id, raw});
  auto data = EncodeBronzeObject(recs, 1'700'000'000'000'000,
                                 request.empty() ? "/products/" + product + "/trades?limit=1000" : request);
  ASSERT_TRUE(data.ok());
  Status s = LandBronzeObject(store, BronzeObjectKey(product, date, first, last), *data, first, last,
                              static_cast<int64_t>(recs.size()), &(*next_seq)[product]);
  ASSERT_TRUE(s.ok()) << s.ToString();
}

std::string T(int64_t id, const std::string& price, const std::string& size, const std::string& side,
              const std::string& time) {
  return "{\"trade_id\":" + std::to_string(id) + ",\"side\":\"" + side + "\",\"size\":\"" + size +
         "\",\"price\":\"" + price + "\",\"time\":\"" + time + "\"}";
}

TEST(EtlE2E, DuplicatesConflictsAndEveryBrokenRuleLandWhereTheyShould) {
  const auto dir = FreshDir("etl-hostile");
  const auto lake = dir / "lake";
  auto store = std::move(OpenLocalStore(lake.string()).value());
  const std::string d = "2024-05-01";
  const std::string t0 = "2024-05-01T10:00:00.5Z";
  std::map<std::string, int64_t> seq;
  // Two overlapping objects: 1..4 and 3..6 (3 and 4 twice, identical).
  PutBronze(store.get(), &seq, "BTC-USD", d, 1, 4,
            {{1, T(1, "100.5", "0.1", "buy", t0)}, {2, T(2, "100.50", "0.2", "sell", t0)},
             {3, T(3, "101", "0.3", "buy", t0)}, {4, T(4, "99.99", "1.5", "sell", t0)}});
  PutBronze(store.get(), &seq, "BTC-USD", d, 3, 6,
            {{3, T(3, "101", "0.3", "buy", t0)}, {4, T(4, "99.99", "1.5", "sell", t0)},
             {5, T(5, "100", "2", "buy", "2024-05-01T10:00:01Z")}, {6, T(6, "100", "2", "buy", "2024-05-01T10:00:01Z")}});
  // A conflicting copy of trade 2 (another price), in a later object.
  PutBronze(store.get(), &seq, "BTC-USD", d, 2, 2, {{2, T(2, "555", "0.2", "sell", t0)}});
  // One record per data-quality rule.
  PutBronze(store.get(), &seq, "BTC-USD", d, 10, 19,
            {{10, "{\"trade_id\":10,\"price\":"},                                   // invalid_json
             {11, "{\"trade_id\":11,\"side\":\"buy\",\"size\":\"1\",\"time\":\"2024-05-01T10:00:00Z\"}"},  // missing_field
             {12, T(12, "0", "1", "buy", t0)},                                        // price_not_positive
             {13, T(13, "1", "-2", "buy", t0)},                                       // size_not_positive
             {14, T(14, "1", "1", "hold", t0)},                                       // invalid_side
             {15, T(15, "1", "1", "buy", "2024-05-01 10:00:00")},                     // invalid_time
             {16, T(16, "1", "1", "buy", "2999-01-01T00:00:00Z")},                    // future_time
             {17, T(17, "1.0000000000000000001", "1", "buy", t0)},                    // decimal_out_of_range
             {18, T(18, "7", "1", "buy", t0)}});                                      // fine
  PutBronze(store.get(), &seq, "BTC-USD", d, 19, 19, {{19, T(19, "1", "1", "buy", t0)}},
            "/products/ETH-USD/trades?limit=1000");                                  // product_mismatch
  auto etl = RunTradelake({"etl", "--lake", lake.string()}, dir);
  ASSERT_EQ(etl.exit_code, 0) << etl.out << etl.err;
  // 4 + 4 + 1 + 9 + 1 = 19 records = 7 inserted + 2 duplicates + 10 rejected.
  EXPECT_NE(etl.out.find("19 records read = 7 inserted + 2 duplicates + 10 rejected  [invariant holds]"),
            std::string::npos)
      << etl.out;
  const auto silver = Query(lake, kSilverTrades, "trade_id, price::VARCHAR", "trade_id");
  ASSERT_EQ(silver.size(), 7u);
  EXPECT_EQ(silver[1][0], "2");
  EXPECT_EQ(Canon(silver[1][1]), "100.5");  // the first-ingested copy wins; the conflict is rejected
  const auto rejected = Query(lake, kSilverRejected, "rule, coalesce(trade_id::VARCHAR, 'NULL'), raw", "rule");
  std::map<std::string, std::string> rule_to_id;
  for (const auto& r : rejected) rule_to_id[r[0]] = r[1];
  const std::map<std::string, std::string> want = {
      {"conflicting_duplicate", "2"}, {"decimal_out_of_range", "17"}, {"future_time", "16"},
      {"invalid_json", "NULL"},       {"invalid_side", "14"},         {"invalid_time", "15"},
      {"missing_field", "11"},        {"price_not_positive", "12"},   {"product_mismatch", "19"},
      {"size_not_positive", "13"}};
  EXPECT_EQ(rule_to_id, want);
  for (const auto& r : rejected) {
    if (r[0] == "invalid_json") {
      EXPECT_NE(r[2].find("{\"trade_id\":10,\"price\":"), std::string::npos) << r[2];
    }
  }
  auto dq = RunTradelake({"dq", "--lake", lake.string()}, dir);
  EXPECT_EQ(dq.exit_code, 0) << dq.out << dq.err;
  EXPECT_NE(dq.out.find("holds"), std::string::npos) << dq.out;

  // Nothing new: nothing to do. The same objects again never double-count.
  auto again = RunTradelake({"etl", "--lake", lake.string()}, dir);
  EXPECT_NE(again.out.find("nothing to do"), std::string::npos) << again.out;
}

// All committed rows of every table (rejected_at left out: it is when a run judged the row).
std::map<std::string, std::vector<std::vector<std::string>>> AllTables(const fs::path& lake) {
  std::map<std::string, std::vector<std::vector<std::string>>> out;
  out["silver"] = Query(lake, kSilverTrades, "* EXCLUDE (ingested_at)", "product_id, trade_id");
  out["rejected"] = Query(lake, kSilverRejected, "* EXCLUDE (rejected_at)", "product_id, bronze_object, raw");
  out["hourly"] = Query(lake, kGoldHourly, "*", "product_id, period_start");
  out["daily"] = Query(lake, kGoldDaily, "*", "product_id, period_start");
  out["bars"] = Query(lake, kGoldBars1m, "*", "product_id, period_start");
  return out;
}

TEST(EtlE2E, KilledTwentyTimesThenConvergesToTheUninterruptedTablesAndRebuildAgrees) {
  SimulatorOptions o;
  o.products = {"BTC-USD", "ETH-USD", "SOL-USD"};
  o.seed = 17;
  o.history_micros = 72 * kMicrosPerHour;
  o.trades_per_second = 0.6;  // ~155k per product over 4 dates
  o.live = false;
  o.rate_limit = false;
  auto sim = StartSim(o);
  ASSERT_NE(sim, nullptr);
  const auto dir = FreshDir("etl-kill");
  const auto clean = dir / "clean";
  const auto killed = dir / "killed";
  for (const auto& lake : {clean, killed}) {
    Ingest(*sim, lake, dir, "BTC-USD,ETH-USD,SOL-USD",
           {"--from-trade-id", "0", "--object-trades", "20000"});
  }
  auto first = RunTradelake({"etl", "--lake", clean.string()}, dir);
  ASSERT_EQ(first.exit_code, 0) << first.out << first.err;

  std::mt19937 rng(4242);
  int killed_mid_run = 0;
  for (int i = 0; i < 20; ++i) {
    const pid_t pid = e2e::Spawn({"etl", "--lake", killed.string()}, dir / "k.out", dir / "k.err");
    ASSERT_GT(pid, 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<int>(5, 600)(rng)));
    ::kill(pid, SIGKILL);
    if (e2e::Wait(pid) == -SIGKILL) ++killed_mid_run;
  }
  EXPECT_GE(killed_mid_run, 5);
  auto final_run = RunTradelake({"etl", "--lake", killed.string()}, dir);
  ASSERT_EQ(final_run.exit_code, 0) << final_run.out << final_run.err;
  const auto want = AllTables(clean);
  ASSERT_FALSE(want.at("silver").empty());
  EXPECT_EQ(AllTables(killed), want);

  // Files of the killed runs are in no Delta version (no engine sees them);
  // vacuum removes them and leaves every table as it was.
  auto orphans = [&] {
    auto store = std::move(OpenLocalStore(killed.string()).value());
    auto state = LoadLakeState(store.get());
    EXPECT_TRUE(state.ok());
    std::set<std::string> referenced;
    for (const auto& [table, delta] : state->tables) {
      for (const auto& [path, add] : delta.files) referenced.insert(*DeltaPathToKey(TableFolder(table), path));
      for (const auto& [path, rm] : delta.tombstones) referenced.insert(*DeltaPathToKey(TableFolder(table), path));
    }
    int n = 0;
    for (const char* prefix : {"silver/", "gold/", "audit/"}) {
      auto listed = store->List(prefix);
      EXPECT_TRUE(listed.ok());
      for (const auto& obj : *listed) {
        if (obj.key.find("/_delta_log/") == std::string::npos && !referenced.contains(obj.key)) ++n;
      }
    }
    return n;
  };
  const int before_vacuum = orphans();
  auto vacuum = RunTradelake({"vacuum", "--lake", killed.string(), "--retain", "0h", "--force"}, dir);
  ASSERT_EQ(vacuum.exit_code, 0) << vacuum.out << vacuum.err;
  EXPECT_EQ(orphans(), 0) << before_vacuum << " orphans before vacuum";
  EXPECT_EQ(AllTables(killed), want);

  // --rebuild recomputes everything from Bronze and must agree.
  auto rebuild = RunTradelake({"etl", "--lake", clean.string(), "--rebuild"}, dir);
  ASSERT_EQ(rebuild.exit_code, 0) << rebuild.out << rebuild.err;
  EXPECT_EQ(AllTables(clean), want);
}

TEST(EtlE2E, IncrementalRunsMatchARebuild) {
  SimulatorOptions o;
  o.products = {"BTC-USD", "ETH-USD"};
  o.seed = 23;
  o.history_micros = 3 * kMicrosPerHour;
  o.trades_per_second = 2;
  o.live = false;
  o.rate_limit = false;
  auto sim = StartSim(o);
  ASSERT_NE(sim, nullptr);
  const auto dir = FreshDir("etl-incr");
  const auto lake = dir / "lake";
  // First half of BTC, ETL; then everything, ETL again: partitions are merged.
  Ingest(*sim, lake, dir, "BTC-USD", {"--from-trade-id", std::to_string(sim->FirstTradeId("BTC-USD")),
                                      "--object-trades", "4000"});
  ASSERT_EQ(RunTradelake({"etl", "--lake", lake.string()}, dir).exit_code, 0);
  Ingest(*sim, lake, dir, "BTC-USD,ETH-USD", {"--from-trade-id", "0"});
  auto second = RunTradelake({"etl", "--lake", lake.string()}, dir);
  ASSERT_EQ(second.exit_code, 0) << second.out << second.err;
  const auto incremental = AllTables(lake);
  auto rebuild = RunTradelake({"etl", "--lake", lake.string(), "--rebuild"}, dir);
  ASSERT_EQ(rebuild.exit_code, 0) << rebuild.out << rebuild.err;
  EXPECT_EQ(AllTables(lake), incremental);
}

}  // namespace
}  // namespace tradelake
