#include "ingest/ingester.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/progress.h"
#include "bronze/bronze.h"
#include "bronze/landed_log.h"
#include "ingest/checkpoint.h"

namespace tradelake {
namespace {

using Clock = std::chrono::steady_clock;

constexpr double kBurstReserve = 3;
// Worker threads when IngestOptions::workers is 0 (at most one per product).
constexpr size_t kDefaultWorkers = 8;
// How often idle workers look at the hints and the stop flag.
constexpr int64_t kIdleCheckMs = 50;

// Trades waiting to become one Bronze object: one product, one trade date,
// ascending ids. Raw bytes are copied into an arena so pages can be dropped.
struct PendingObject {
  std::string date;
  std::string arena;
  struct Entry {
    int64_t trade_id;
    size_t offset, length;
  };
  std::vector<Entry> entries;
  std::string first_request;
  TimestampMicros fetched_at = 0;
  std::optional<TimestampMicros> last_time;
  Clock::time_point started;

  bool empty() const { return entries.empty(); }
  void Clear() {
    date.clear();
    arena.clear();
    entries.clear();
    first_request.clear();
    last_time.reset();
  }
};

// A trade accepted from a page, in id order.
struct Accepted {
  int64_t trade_id;
  std::optional<TimestampMicros> time;
  std::string_view raw;
};

// What one FetchRange gathered for ids [next, after).
struct RangeFetch {
  std::deque<TradePage> pages;    // own the bytes `trades` point into (a deque never moves them)
  std::vector<Accepted> trades;   // ascending ids, each once
  std::vector<std::pair<int64_t, int64_t>> missing;  // inclusive id ranges never returned
  bool at_head = false;           // the range reached the newest trade
  int64_t resume_at = 0;          // first id after what the range covers (trades and missing)
  int passes = 0;                 // walks over the range (1 + refetches)
  std::string first_request, last_request;
};

class ProductIngester {
 public:
  ProductIngester(ObjectStore* store, const IngestOptions& options, RateLimiter* limiter,
                  ClientStats* stats, ProgressBar* progress, ProductReport* report)
      : store_(store),
        options_(options),
        client_(options.exchange, limiter, stats),
        progress_(progress),
        report_(report) {
    report_->product_id = product_;
  }

  void set_product(std::string product) {
    product_ = std::move(product);
    report_->product_id = product_;
  }

  // Loads and recovers the checkpoint and decides where to start. Returns the
  // number of trades expected (for the progress bar; an estimate).
  Result<int64_t> Prepare();
  // One turn of work (callers: the scheduler's workers, one turn of a
  // product at a time): the first turn repairs due gaps; later ones walk
  // the backfill, then forward, at most `max_pages` ranges per turn. Sets
  // *done when the product has finished (caught up without follow, or
  // stopped) and *next_turn to when it wants its next turn (now while work
  // is left). The status is the product's outcome when *done, or an error.
  Status Step(int max_pages, bool* done, Clock::time_point* next_turn);
  // A notified trade id (IngestOptions::hints) is above what is landed.
  bool HasNews() const;
  const Checkpoint& checkpoint() const { return cp_; }
  const GapIndex& gaps() const { return gaps_; }

 private:
  bool Stopping() const { return options_.stop && options_.stop->load(); }

  // (id, time) of the newest trade with id <= at_most, or of the newest trade.
  Result<std::optional<std::pair<int64_t, std::optional<TimestampMicros>>>> Probe(
      std::optional<int64_t> at_most);
  Result<int64_t> FindFirstIdAtOrAfter(TimestampMicros since);
  // The first existing trade id >= id (ids before a product's first trade do not exist).
  Result<int64_t> FirstIdAtOrAfter(int64_t id);

  // Fetches ids [*next, stop] (stop = nullopt: up to the newest trade), lands
  // them and calls `advance(last_landed_id, its_time)` after every durable
  // object. Sets *caught_up when the exchange has nothing newer.
  using AdvanceFn = std::function<Status(int64_t, std::optional<TimestampMicros>)>;
  // Stops after `max_pages` ranges (0: no limit) with *budget_spent set,
  // keeping trades not yet landed for the next call.
  Status Walk(int64_t* next, std::optional<int64_t> stop, const AdvanceFn& advance, bool* caught_up,
              int max_pages, bool* budget_spent);
  // The trades of ids [next, after) (at most one page's worth). A page may
  // hold fewer trades than asked (`limit` is a maximum): the walk then goes
  // on inside the range with the cursor (after = the oldest id received,
  // CB-AFTER) until it has reached `next`. Ids still missing after that are
  // fetched again in up to `max_passes` walks in all, then returned in
  // out->missing (the caller decides what they are). `top` (optional): the
  // highest id wanted, known to exist; without it the newest trade is asked
  // when the range may reach the head.
  Status FetchRange(int64_t next, int64_t after, int max_passes, std::optional<int64_t> top, RangeFetch* out);
  Status Append(const std::vector<Accepted>& trades, const std::string& request, TimestampMicros fetched_at,
                const AdvanceFn& advance);
  Status Flush(const AdvanceFn& advance);
  Status SaveCheckpointNow();
  // Writes one Bronze object create-only and announces it. An object already
  // there must hold exactly these ids (a rerun after a crash): it is then
  // only announced if the log lacks it, and *is_new is false.
  Status LandObject(const std::string& date, const std::vector<BronzeRecord>& records, TimestampMicros fetched_at,
                    const std::string& request, std::string* key, int64_t* bytes, bool* is_new);

  // Gap repair (gap_index.h).
  TimestampMicros GapNow() const { return options_.clock ? options_.clock() : NowMicros(); }
  // Puts gap reports into the open set (saved if anything was added).
  Status OpenGaps(const std::vector<std::pair<int64_t, int64_t>>& ranges);
  // A crash while a repair was landing: objects it wrote are adopted.
  Status AdoptLanding();
  // Fetches every open gap that is due again, lands what comes back.
  Status RepairDueGaps();
  Status RepairGap(int64_t first_id);
  // Records the repair of (part of) `gap` by `objects` holding `ids` and
  // reopens what is still missing (`remaining`), then saves the index.
  Status CloseGap(OpenGap gap, const std::vector<int64_t>& ids, std::vector<std::string> objects,
                  const std::vector<std::pair<int64_t, int64_t>>& remaining);

  // Closes the lag between the checkpoint and Bronze after a crash: advances
  // cp_ over objects and gap reports landed after it, and announces in the
  // landed log every object found there that the log does not hold yet.
  // `loaded` is the checkpoint as read (nullopt if there was none);
  // `fresh_backfill` is true when cp_.backfill was created by this run.
  Status Recover(const std::optional<Checkpoint>& loaded, bool fresh_backfill, bool* changed);
  // Appends an entry for a durable object and remembers its key.
  Status Announce(const std::string& key, int64_t first, int64_t last, int64_t records, int64_t bytes);
  // Announces `key` unless this run, another writer since our bookmark, or
  // recovery already did.
  Status EnsureAnnounced(const std::string& key, int64_t first, int64_t last, int64_t records, int64_t bytes);
  // Adds the log entries from next_seq_ on to announced_ and moves next_seq_ past them.
  Status CatchUpWithLog();

  ObjectStore* store_;
  const IngestOptions& options_;
  CoinbaseClient client_;
  ProgressBar* progress_;
  ProductReport* report_;
  std::string product_;
  Checkpoint cp_;
  PendingObject pending_;
  // The landed-log seq to append at next (saved as cp_.landed_next_seq).
  int64_t next_seq_ = 0;
  // Objects announced at seqs >= the loaded checkpoint's landed_next_seq.
  std::set<std::string> announced_;
  GapIndex gaps_;
  enum class Phase { kStart, kBackfill, kForward };
  Phase phase_ = Phase::kStart;
  int64_t backfill_next_ = 0;  // walks of the backfill resume here
  int64_t next_ = 0;           // walks forward resume here
  // Gap reports recovery advanced over: a crash may have kept them out of the index.
  std::vector<LandedRange> recovered_gaps_;
};

Result<std::optional<std::pair<int64_t, std::optional<TimestampMicros>>>> ProductIngester::Probe(
    std::optional<int64_t> at_most) {
  using Out = std::optional<std::pair<int64_t, std::optional<TimestampMicros>>>;
  std::optional<int64_t> after;
  if (at_most) after = *at_most + 1;
  for (int attempt = 1;; ++attempt) {
    ASSIGN_OR_RETURN(TradePage page, client_.GetTrades(product_, after, 1));
    const RawTrade* best = nullptr;
    for (const auto& t : page.trades) {
      if (at_most && t.trade_id > *at_most) continue;
      if (!best || t.trade_id > best->trade_id) best = &t;
    }
    if (best) return Out(std::make_pair(best->trade_id, best->time));
    // Only an empty page means "nothing at or below"; a page of newer trades
    // is an overlapping answer and proves nothing.
    if (page.trades.empty()) return Out();
    if (attempt >= options_.refetch_attempts) {
      return Unavailable(fmt::format("{}: the exchange keeps answering {} with trades newer than asked",
                                     product_, page.request_path));
    }
  }
}

Result<int64_t> ProductIngester::FindFirstIdAtOrAfter(TimestampMicros since) {
  ASSIGN_OR_RETURN(auto newest, Probe(std::nullopt));
  if (!newest) return int64_t{0};
  auto before_since = [&](const std::optional<TimestampMicros>& t) { return !t || *t < since; };
  if (before_since(newest->second)) return newest->first + 1;
  // Invariant: no trade with id <= lo is at or after `since`; trade hi is.
  // Exponential search down for such a lo, then bisect.
  int64_t hi = newest->first;
  int64_t lo = hi;
  for (int64_t step = kMaxTradesPerPage;; step *= 2) {
    lo = std::max<int64_t>(hi - step, 0);
    ASSIGN_OR_RETURN(auto p, Probe(lo));
    if (!p || before_since(p->second)) break;
    hi = p->first;
    if (lo == 0) return hi;
  }
  while (hi - lo > 1) {
    const int64_t mid = lo + (hi - lo) / 2;
    ASSIGN_OR_RETURN(auto p, Probe(mid));  // the newest trade with id <= mid
    if (!p || before_since(p->second)) {
      lo = mid;
    } else {
      hi = p->first;
    }
  }
  spdlog::info("{}: first trade at or after {} is {}", product_, FormatRfc3339Micros(since), hi);
  return hi;
}

Result<int64_t> ProductIngester::Prepare() {
  ASSIGN_OR_RETURN(auto loaded, LoadCheckpoint(store_, product_));

  std::optional<int64_t> start;
  if (options_.from_trade_id) {
    ASSIGN_OR_RETURN(int64_t s, FirstIdAtOrAfter(*options_.from_trade_id));
    start = s;
  }
  if (options_.since) {
    ASSIGN_OR_RETURN(int64_t s, FindFirstIdAtOrAfter(*options_.since));
    start = start ? std::min(*start, s) : s;
  }

  bool changed = false;
  bool fresh_backfill = false;
  if (!loaded) {
    int64_t begin = 0;
    if (start) {
      begin = *start;
    } else {
      // First run without a start: begin with the newest page of trades.
      ASSIGN_OR_RETURN(TradePage page, client_.GetTrades(product_, std::nullopt, kMaxTradesPerPage));
      int64_t lowest = -1;
      for (const auto& t : page.trades) lowest = lowest < 0 ? t.trade_id : std::min(lowest, t.trade_id);
      begin = lowest < 0 ? 0 : lowest;
      spdlog::info("{}: no checkpoint and no --since/--from-trade-id; starting at the newest page (trade {})",
                   product_, begin);
    }
    cp_.product_id = product_;
    cp_.low = begin;
    cp_.high = begin - 1;
    changed = true;
  } else {
    cp_ = *loaded;
    if (start && *start < cp_.low) {
      if (cp_.backfill && *start < cp_.backfill->from) {
        spdlog::warn("{}: a backfill from trade {} is still pending; it resumes first, run again to go back to {}",
                     product_, cp_.backfill->from, *start);
      } else if (!cp_.backfill) {
        cp_.backfill = Backfill{*start, *start, std::nullopt};
        fresh_backfill = true;
        changed = true;
      }
    }
  }
  RETURN_IF_ERROR(Recover(loaded, fresh_backfill, &changed));
  if (changed) RETURN_IF_ERROR(SaveCheckpointNow());
  ASSIGN_OR_RETURN(gaps_, LoadGapIndex(store_, product_));
  std::vector<std::pair<int64_t, int64_t>> recovered;
  for (const auto& g : recovered_gaps_) recovered.emplace_back(g.first_id, g.last_id);
  RETURN_IF_ERROR(OpenGaps(recovered));
  RETURN_IF_ERROR(AdoptLanding());

  int64_t expected = 0;
  if (cp_.backfill) expected += cp_.low - cp_.backfill->next;
  if (auto newest = Probe(std::nullopt); newest.ok() && *newest) {
    expected += std::max<int64_t>(0, (*newest)->first - cp_.high);
  }
  return expected;
}

Status ProductIngester::SaveCheckpointNow() {
  cp_.updated_at = NowMicros();
  cp_.landed_next_seq = next_seq_;
  return SaveCheckpoint(store_, cp_);
}

Status ProductIngester::CatchUpWithLog() {
  constexpr int64_t kBatch = 10'000;
  while (true) {
    ASSIGN_OR_RETURN(auto entries, ReadLanded(store_, product_, next_seq_, kBatch));
    for (auto& e : entries) {
      next_seq_ = std::max(next_seq_, e.seq + 1);
      announced_.insert(std::move(e.key));
    }
    if (static_cast<int64_t>(entries.size()) < kBatch) return Status::OK();
  }
}

Status ProductIngester::Announce(const std::string& key, int64_t first, int64_t last, int64_t records,
                                 int64_t bytes) {
  LandedEntry e;
  e.key = key;
  e.first_trade_id = first;
  e.last_trade_id = last;
  e.records = records;
  e.bytes = bytes;
  auto seq = AppendLanded(store_, product_, std::move(e), &next_seq_);
  if (!seq.ok()) {
    // The object is durable but unannounced; the next run's recovery finds
    // it after the checkpoint and announces it.
    return seq.status().WithContext(fmt::format("{}: announcing Bronze object {}", product_, key));
  }
  announced_.insert(key);
  return Status::OK();
}

Status ProductIngester::EnsureAnnounced(const std::string& key, int64_t first, int64_t last, int64_t records,
                                        int64_t bytes) {
  if (announced_.contains(key)) return Status::OK();
  RETURN_IF_ERROR(CatchUpWithLog());
  if (announced_.contains(key)) return Status::OK();
  spdlog::info("{}: announcing {} (landed by an earlier run that stopped before announcing it)", product_, key);
  return Announce(key, first, last, records, bytes);
}

Status ProductIngester::Recover(const std::optional<Checkpoint>& loaded, bool fresh_backfill, bool* changed) {
  // Checkpoints from before the landed log have no seq: their objects were
  // never announced, so this once the whole product is listed and announced.
  const bool has_seq = loaded && loaded->landed_next_seq.has_value();
  next_seq_ = has_seq ? *loaded->landed_next_seq : 0;
  announced_.clear();
  RETURN_IF_ERROR(CatchUpWithLog());  // what was announced after the checkpoint

  // Where objects landed after the checkpoint can be: from the date of its
  // newest trade (and of the backfill cursor's) on. Without those dates, or
  // without a checkpoint, only a full listing can tell.
  std::optional<TimestampMicros> since;
  if (has_seq) since = loaded->high_time;
  if (since && loaded->backfill && !fresh_backfill) {
    since = loaded->backfill->landed_time ? std::optional(std::min(*since, *loaded->backfill->landed_time))
                                          : std::nullopt;
  }
  std::vector<LandedRange> ranges;
  if (since) {
    ASSIGN_OR_RETURN(ranges, ListLandedRangesSince(store_, product_, *since, NowMicros()));
  } else {
    spdlog::info("{}: {}; listing all of its Bronze to recover", product_,
                 !loaded    ? "no checkpoint"
                 : !has_seq ? "checkpoint from before the landed-object log"
                            : "checkpoint without trade times");
    ASSIGN_OR_RETURN(ranges, ListLandedRanges(store_, product_));
  }

  ASSIGN_OR_RETURN(const int64_t forward,
                   AdvanceOverLandedAndGaps(store_, product_, ranges, cp_.high + 1, &recovered_gaps_));
  if (forward - 1 != cp_.high) {
    spdlog::info("{}: recovered trades {}..{} already in Bronze", product_, cp_.high + 1, forward - 1);
    cp_.high = forward - 1;
    *changed = true;
  }
  if (cp_.backfill) {
    ASSIGN_OR_RETURN(int64_t n,
                     AdvanceOverLandedAndGaps(store_, product_, ranges, cp_.backfill->next, &recovered_gaps_));
    n = std::min(n, cp_.low);
    if (n != cp_.backfill->next) {
      cp_.backfill->next = n;
      *changed = true;
    }
    if (cp_.backfill->next >= cp_.low) {
      cp_.low = cp_.backfill->from;
      cp_.backfill.reset();
      *changed = true;
    }
  }

  // An object after the checkpoint that the log lacks was landed by a run
  // that stopped between its Put and its announcement.
  auto after_checkpoint = [&](const LandedRange& r) {
    if (!has_seq) return true;
    if (r.last_id > loaded->high) return true;
    return loaded->backfill && r.first_id < loaded->low && r.last_id >= loaded->backfill->next;
  };
  for (const auto& r : ranges) {
    if (r.is_gap || announced_.contains(r.key) || !after_checkpoint(r)) continue;
    int64_t records = 0;
    ASSIGN_OR_RETURN(std::string data, store_->Get(r.key));
    if (auto lines = ReadBronzeLines(data); lines.ok()) {
      records = static_cast<int64_t>(lines->size());
    } else {
      // Still announced: the ETL reports a broken object by name, while an
      // unannounced one would silently never be read.
      spdlog::warn("{}: {}", product_, lines.status().ToString());
    }
    RETURN_IF_ERROR(Announce(r.key, r.first_id, r.last_id, records, static_cast<int64_t>(data.size())));
    *changed = true;
  }
  if (!has_seq || *loaded->landed_next_seq != next_seq_) *changed = true;
  return Status::OK();
}

Status ProductIngester::Step(int max_pages, bool* done, Clock::time_point* next_turn) {
  *done = false;
  *next_turn = Clock::now();
  if (phase_ == Phase::kStart) {
    RETURN_IF_ERROR(RepairDueGaps());
    next_ = cp_.high + 1;
    if (cp_.backfill) {
      backfill_next_ = cp_.backfill->next;
      spdlog::info("{}: backfilling trades {}..{}", product_, backfill_next_, cp_.low - 1);
      phase_ = Phase::kBackfill;
    } else {
      phase_ = Phase::kForward;
    }
    return Status::OK();
  }
  bool finished = false, budget_spent = false;
  if (phase_ == Phase::kBackfill) {
    const AdvanceFn backfill = [&](int64_t last, std::optional<TimestampMicros> t) {
      cp_.backfill->next = last + 1;
      if (t) cp_.backfill->landed_time = t;
      if (cp_.backfill->next >= cp_.low) {
        cp_.low = cp_.backfill->from;
        cp_.backfill.reset();
      }
      return SaveCheckpointNow();
    };
    RETURN_IF_ERROR(Walk(&backfill_next_, cp_.low - 1, backfill, &finished, max_pages, &budget_spent));
    if (Stopping()) {
      *done = true;
      return Cancelled(fmt::format("{}: stopped during backfill; rerun to resume", product_));
    }
    if (!budget_spent) phase_ = Phase::kForward;
    return Status::OK();
  }
  const AdvanceFn forward = [&](int64_t last, std::optional<TimestampMicros> t) {
    cp_.high = last;
    if (t) cp_.high_time = t;
    return SaveCheckpointNow();
  };
  RETURN_IF_ERROR(Walk(&next_, std::nullopt, forward, &finished, max_pages, &budget_spent));
  if (Stopping()) {
    *done = true;
    return options_.follow ? Status::OK()
                           : Cancelled(fmt::format("{}: stopped before catching up; rerun to resume", product_));
  }
  if (budget_spent) return Status::OK();  // more to fetch: back in the queue
  if (!options_.follow) {
    *done = true;
    return Status::OK();
  }
  RETURN_IF_ERROR(RepairDueGaps());
  // Caught up: next turn after the poll interval, or with hints (the
  // scheduler also gives a turn as soon as a newer trade is notified) after
  // the safety poll; never later than what waits in memory must land.
  const bool hinted = options_.hints && options_.hints->Follows(product_);
  *next_turn = Clock::now() + std::chrono::milliseconds(hinted ? options_.hint_poll_interval_ms
                                                               : options_.poll_interval_ms);
  if (!pending_.empty()) {
    *next_turn = std::min(*next_turn, pending_.started + std::chrono::milliseconds(options_.flush_interval_ms));
  }
  return Status::OK();
}

bool ProductIngester::HasNews() const {
  if (!options_.hints || phase_ != Phase::kForward) return false;
  const auto known = options_.hints->Known(product_);
  return known && *known >= next_;
}

Status ProductIngester::FetchRange(int64_t next, int64_t after, int max_passes, std::optional<int64_t> top,
                                   RangeFetch* out) {
  *out = RangeFetch{};
  out->resume_at = next;
  std::map<int64_t, Accepted> got;
  // The highest id wanted: after - 1 until a page shows the range may reach
  // the head, then the newest trade (or above it, for trades that arrived
  // since it was asked).
  int64_t want_top = top ? std::min(*top, after - 1) : after - 1;
  bool top_settled = top.has_value();
  int64_t max_any = -1;
  int64_t page_span = 0;  // the most trades one page held
  // The highest id in [next, below) not received yet, or next - 1 if none.
  auto highest_missing_below = [&](int64_t below) {
    int64_t id = std::min(below, want_top + 1) - 1;
    while (id >= next && got.contains(id)) --id;
    return id;
  };
  for (int pass = 1;; ++pass) {
    out->passes = pass;
    int64_t cursor = pass == 1 && !top_settled ? after : highest_missing_below(after) + 1;
    while (cursor > next) {
      if (Stopping()) return Cancelled(fmt::format("{}: stopping", product_));
      const int limit = static_cast<int>(std::min<int64_t>(cursor - next, kMaxTradesPerPage));
      ASSIGN_OR_RETURN(TradePage fetched, client_.GetTrades(product_, cursor, limit));
      out->pages.push_back(std::move(fetched));
      const TradePage& page = out->pages.back();
      if (out->first_request.empty()) out->first_request = page.request_path;
      out->last_request = page.request_path;
      int64_t oldest = cursor;  // the oldest id below the cursor this page holds (CB-AFTER)
      for (const auto& t : page.trades) {
        max_any = std::max(max_any, t.trade_id);
        if (t.trade_id < cursor) oldest = std::min(oldest, t.trade_id);
        if (t.trade_id < next || t.trade_id >= after) continue;  // overlap with ranges we have or will fetch
        auto [it, inserted] = got.try_emplace(t.trade_id, Accepted{t.trade_id, t.time, t.raw});
        if (!inserted && it->second.raw != t.raw) {
          ++report_->conflicts;
          spdlog::warn("{}: trade {} sent twice with different bytes; keeping the first", product_, t.trade_id);
        }
      }
      if (!top_settled) {
        // A first page that ends below `after - 1` is either the newest
        // trades (the head) or a hole at the top of the range: the newest id
        // tells which.
        top_settled = true;
        if (max_any < after - 1) {
          ASSIGN_OR_RETURN(auto newest, Probe(std::nullopt));
          const int64_t n = newest ? newest->first : -1;
          if (n < after) {
            out->at_head = true;
            want_top = std::max(n, next - 1);
          }
        }
      }
      if (out->at_head && !got.empty()) want_top = std::max(want_top, got.rbegin()->first);
      page_span = std::max(page_span, static_cast<int64_t>(page.trades.size()));
      int64_t answered_from = oldest;  // ids in [answered_from, cursor) are answered by this walk
      if (oldest >= cursor) {
        if (!page.trades.empty()) break;  // only newer trades (an overlapping answer): walk again later
        // An empty page inside the range: its ids are missing, but trades may
        // exist below them. Go on below as much as a page holds (pages may be
        // shorter than asked, so as much as the largest page seen held).
        answered_from = cursor - (page_span > 0 ? page_span : limit);
      }
      cursor = highest_missing_below(answered_from) + 1;
    }
    const int64_t still_missing = highest_missing_below(after);
    if (still_missing < next || pass >= max_passes) break;
    spdlog::debug("{}: ids {}..{} lack trades after walk {} (highest missing {}); walking again", product_, next,
                  want_top, pass, still_missing);
    std::this_thread::sleep_for(std::chrono::milliseconds(25 * pass));
  }
  int64_t expect = next;
  for (auto& [id, t] : got) {
    if (id > want_top) break;
    if (id > expect) out->missing.emplace_back(expect, id - 1);
    out->trades.push_back(t);
    expect = id + 1;
  }
  if (expect <= want_top) out->missing.emplace_back(expect, want_top);
  out->resume_at = std::max(next, want_top + 1);
  return Status::OK();
}

Result<int64_t> ProductIngester::FirstIdAtOrAfter(int64_t id) {
  // Usually `id` exists; otherwise bisect between it and the newest trade.
  ASSIGN_OR_RETURN(auto newest, Probe(std::nullopt));
  if (!newest || newest->first < id) return id;  // nothing there yet: start at `id`
  ASSIGN_OR_RETURN(auto at, Probe(id));
  if (at && at->first == id) return id;
  int64_t lo = id, hi = newest->first;  // no trade in [id, lo]; hi exists
  while (hi - lo > 1) {
    const int64_t mid = lo + (hi - lo) / 2;
    ASSIGN_OR_RETURN(auto p, Probe(mid));
    if (p && p->first >= id) {
      hi = p->first;
    } else {
      lo = mid;
    }
  }
  return hi;
}

Status ProductIngester::Walk(int64_t* next, std::optional<int64_t> stop, const AdvanceFn& advance,
                             bool* caught_up, int max_pages, bool* budget_spent) {
  RangeFetch fetch;
  *caught_up = false;
  *budget_spent = false;
  for (int pages = 0; !Stopping(); ++pages) {
    if (stop && *next > *stop) break;
    if (max_pages > 0 && pages >= max_pages) {
      *budget_spent = true;
      return Status::OK();
    }
    int64_t after = *next + kMaxTradesPerPage;
    if (stop) after = std::min(after, *stop + 1);
    const TimestampMicros fetched_at = NowMicros();
    Status s = FetchRange(*next, after, options_.refetch_attempts, std::nullopt, &fetch);
    if (!s.ok()) {
      // Keep what is already fetched: land it, then report the error (none
      // if the range was cut short because we are stopping).
      Status f = Flush(advance);
      if (f.ok() && s.code() == StatusCode::kCancelled && Stopping()) return Status::OK();
      return f.ok() ? s : f;
    }
    for (const auto& [a, b] : fetch.missing) {
      GapReport gap{product_, a, b, "missing from the exchange's answer after refetching", fetch.last_request,
                    fetch.passes, NowMicros()};
      spdlog::warn("{}: trades {}..{} not returned after {} walks; written to the gap report", product_, a, b,
                   fetch.passes);
      ++report_->gaps;
      report_->gap_trades += b - a + 1;
      RETURN_IF_ERROR(WriteGapReport(store_, gap));
    }
    // After the reports (a crash in between is found by recovery), before
    // the checkpoint passes them.
    RETURN_IF_ERROR(OpenGaps(fetch.missing));
    RETURN_IF_ERROR(Append(fetch.trades, fetch.first_request, fetched_at, advance));
    if (progress_) progress_->Add(static_cast<int64_t>(fetch.trades.size()));
    // Gap reports written above are durable: the checkpoint may pass them.
    const int64_t landed_before = *next;
    *next = fetch.resume_at;
    if (pending_.empty() && *next > landed_before) RETURN_IF_ERROR(advance(*next - 1, std::nullopt));
    if (fetch.at_head && !stop) {
      *caught_up = true;
      break;
    }
    if (fetch.at_head && stop) break;  // nothing more below `stop` exists
    if (static_cast<int64_t>(pending_.entries.size()) >= options_.object_max_trades) {
      RETURN_IF_ERROR(Flush(advance));
    }
  }
  // In follow mode small polls accumulate into one object per flush interval.
  const bool young = options_.follow && !Stopping() && !pending_.empty() &&
                     Clock::now() - pending_.started < std::chrono::milliseconds(options_.flush_interval_ms);
  return young ? Status::OK() : Flush(advance);
}

Status ProductIngester::Append(const std::vector<Accepted>& trades, const std::string& request,
                               TimestampMicros fetched_at, const AdvanceFn& advance) {
  // A trade without a parseable time is filed under its neighbour's date.
  std::optional<TimestampMicros> fallback;
  for (const auto& t : trades) {
    if (t.time) {
      fallback = t.time;
      break;
    }
  }
  for (const auto& t : trades) {
    std::string date;
    if (t.time) {
      date = FormatDate(*t.time);
    } else if (!pending_.empty()) {
      date = pending_.date;
    } else {
      date = FormatDate(fallback.value_or(fetched_at));
    }
    if (!pending_.empty() && date != pending_.date) RETURN_IF_ERROR(Flush(advance));
    if (pending_.empty()) {
      pending_.date = date;
      pending_.first_request = request;
      pending_.fetched_at = fetched_at;
      pending_.started = Clock::now();
    }
    pending_.entries.push_back({t.trade_id, pending_.arena.size(), t.raw.size()});
    pending_.arena.append(t.raw);
    if (t.time) pending_.last_time = t.time;
  }
  return Status::OK();
}

Status ProductIngester::LandObject(const std::string& date, const std::vector<BronzeRecord>& records,
                                   TimestampMicros fetched_at, const std::string& request, std::string* key,
                                   int64_t* bytes, bool* is_new) {
  const int64_t first = records.front().trade_id;
  const int64_t last = records.back().trade_id;
  *key = BronzeObjectKey(product_, date, first, last);
  *is_new = false;
  ASSIGN_OR_RETURN(std::string data, EncodeBronzeObject(records, fetched_at, request));
  Status s = store_->Put(*key, data, WriteMode::kCreateOnly);
  if (s.code() == StatusCode::kAlreadyExists) {
    // Written by an earlier run that died before its checkpoint: it must hold
    // exactly these trades, or two writers disagree about Bronze.
    ASSIGN_OR_RETURN(std::string existing, store_->Get(*key));
    ASSIGN_OR_RETURN(auto decoded, DecodeBronzeObject(existing));
    bool same = decoded.size() == records.size();
    for (size_t i = 0; same && i < decoded.size(); ++i) same = decoded[i].trade_id == records[i].trade_id;
    if (!same) {
      return DataLoss(fmt::format("Bronze object {} already exists with different trades; "
                                  "is another ingester writing this lake?", *key));
    }
    spdlog::debug("{}: {} already landed by an earlier run", product_, *key);
    *bytes = static_cast<int64_t>(existing.size());
    return EnsureAnnounced(*key, first, last, static_cast<int64_t>(records.size()), *bytes);
  }
  if (!s.ok()) return s.WithContext(fmt::format("writing Bronze object {}", *key));
  *bytes = static_cast<int64_t>(data.size());
  RETURN_IF_ERROR(Announce(*key, first, last, static_cast<int64_t>(records.size()), *bytes));
  *is_new = true;
  ++report_->objects_written;
  report_->bytes_written += *bytes;
  report_->trades_landed += static_cast<int64_t>(records.size());
  spdlog::debug("{}: landed {} ({} trades, {} bytes)", product_, *key, records.size(), *bytes);
  return Status::OK();
}

Status ProductIngester::Flush(const AdvanceFn& advance) {
  if (pending_.empty()) return Status::OK();
  std::vector<BronzeRecord> records;
  records.reserve(pending_.entries.size());
  for (const auto& e : pending_.entries) {
    records.push_back({e.trade_id, std::string_view(pending_.arena).substr(e.offset, e.length)});
  }
  std::string key;
  int64_t bytes = 0;
  bool is_new = false;
  RETURN_IF_ERROR(LandObject(pending_.date, records, pending_.fetched_at, pending_.first_request, &key, &bytes, &is_new));
  const int64_t last = records.back().trade_id;
  if (is_new && options_.on_landed) {
    options_.on_landed({product_, key, static_cast<int64_t>(records.size()), bytes, last, pending_.last_time, false});
  }
  const auto last_time = pending_.last_time;
  pending_.Clear();
  return advance(last, last_time);
}

Status ProductIngester::OpenGaps(const std::vector<std::pair<int64_t, int64_t>>& ranges) {
  if (ranges.empty()) return Status::OK();
  const TimestampMicros now = GapNow();
  bool added = false;
  for (const auto& [a, b] : ranges) {
    OpenGap g;
    g.first_id = a;
    g.last_id = b;
    g.report = GapReportKey(product_, a, b);
    g.opened_at = now;
    g.next_attempt_at = now + GapRetryDelayMs(options_.gap_retry, 1) * 1000;
    added |= AddOpenGap(&gaps_, std::move(g));
  }
  return added ? SaveGapIndex(store_, gaps_) : Status::OK();
}

Status ProductIngester::AdoptLanding() {
  std::vector<OpenGap> landing;
  for (const auto& g : gaps_.open) {
    if (!g.landing.empty()) landing.push_back(g);
  }
  for (OpenGap& g : landing) {
    std::vector<int64_t> ids;
    std::vector<std::string> objects;
    for (const std::string& key : g.landing) {
      auto data = store_->Get(key);
      if (data.status().code() == StatusCode::kNotFound) continue;  // never written
      if (!data.ok()) return data.status().WithContext("adopting a gap repair's object");
      ASSIGN_OR_RETURN(auto records, DecodeBronzeObject(*data));
      if (records.empty()) continue;
      RETURN_IF_ERROR(EnsureAnnounced(key, records.front().trade_id, records.back().trade_id,
                                      static_cast<int64_t>(records.size()), static_cast<int64_t>(data->size())));
      for (const auto& r : records) ids.push_back(r.trade_id);
      objects.push_back(key);
    }
    std::sort(ids.begin(), ids.end());
    std::vector<std::pair<int64_t, int64_t>> remaining;
    int64_t expect = g.first_id;
    for (int64_t id : ids) {
      if (id > expect) remaining.emplace_back(expect, id - 1);
      expect = std::max(expect, id + 1);
    }
    if (expect <= g.last_id) remaining.emplace_back(expect, g.last_id);
    g.landing.clear();
    if (ids.empty()) {
      for (auto& e : gaps_.open) {
        if (e.first_id == g.first_id) e.landing.clear();
      }
      RETURN_IF_ERROR(SaveGapIndex(store_, gaps_));
      continue;
    }
    spdlog::info("{}: adopting {} trades of gap {}..{} landed by a run that stopped mid-repair", product_, ids.size(),
                 g.first_id, g.last_id);
    RETURN_IF_ERROR(CloseGap(std::move(g), ids, std::move(objects), remaining));
  }
  return Status::OK();
}

Status ProductIngester::RepairDueGaps() {
  if (!options_.repair_gaps || gaps_.open.empty()) return Status::OK();
  const TimestampMicros now = GapNow();
  std::vector<int64_t> due;
  for (auto& g : gaps_.open) {
    // Due by this run's policy (a shorter --gap-retry-first applies at once);
    // next_attempt_at as saved is for people reading the index.
    const TimestampMicros since = g.last_attempt_at.value_or(g.opened_at);
    const TimestampMicros due_at = since + GapRetryDelayMs(options_.gap_retry, g.attempts + 1) * 1000;
    if (due_at <= now) due.push_back(g.first_id);
  }
  for (int64_t first : due) {
    if (Stopping()) break;
    RETURN_IF_ERROR(RepairGap(first));
  }
  return Status::OK();
}

Status ProductIngester::RepairGap(int64_t first_id) {
  auto it = std::find_if(gaps_.open.begin(), gaps_.open.end(),
                         [&](const OpenGap& g) { return g.first_id == first_id; });
  if (it == gaps_.open.end()) return Status::OK();
  OpenGap gap = *it;
  RangeFetch fetch;
  const TimestampMicros fetched_at = NowMicros();
  // One walk per attempt: the schedule, not a refetch loop, decides when to
  // ask again.
  Status s = FetchRange(gap.first_id, gap.last_id + 1, 1, gap.last_id, &fetch);
  if (!s.ok() && Stopping()) return Status::OK();  // cut short, not an attempt
  const TimestampMicros now = GapNow();
  ++gap.attempts;
  gap.last_attempt_at = now;
  if (!s.ok() || fetch.trades.empty()) {
    if (!s.ok()) {
      spdlog::warn("{}: repairing gap {}..{} (attempt {}): {}", product_, gap.first_id, gap.last_id, gap.attempts,
                   s.ToString());
    }
    gap.next_attempt_at = now + GapRetryDelayMs(options_.gap_retry, gap.attempts + 1) * 1000;
    spdlog::info("{}: gap {}..{} still missing after {} repair attempts; next attempt at {}", product_, gap.first_id,
                 gap.last_id, gap.attempts, FormatRfc3339Micros(gap.next_attempt_at));
    ++report_->gap_attempts_failed;
    *it = std::move(gap);
    return SaveGapIndex(store_, gaps_);
  }
  // Group by trade date (a trade without a time goes with its neighbour).
  struct Part {
    std::string date;
    std::vector<BronzeRecord> records;
  };
  std::vector<Part> parts;
  std::optional<TimestampMicros> fallback;
  for (const auto& t : fetch.trades) {
    if (t.time) {
      fallback = t.time;
      break;
    }
  }
  std::vector<int64_t> ids;
  for (const auto& t : fetch.trades) {
    std::string date = t.time                ? FormatDate(*t.time)
                       : !parts.empty()      ? parts.back().date
                                             : FormatDate(fallback.value_or(fetched_at));
    if (parts.empty() || parts.back().date != date) parts.push_back({std::move(date), {}});
    parts.back().records.push_back({t.trade_id, t.raw});
    ids.push_back(t.trade_id);
  }
  // The intent first: a crash after an object's Put is then adopted by the
  // next run instead of the trades being landed again under another name.
  gap.landing.clear();
  for (const auto& p : parts) {
    gap.landing.push_back(
        BronzeObjectKey(product_, p.date, p.records.front().trade_id, p.records.back().trade_id));
  }
  *it = gap;
  RETURN_IF_ERROR(SaveGapIndex(store_, gaps_));
  std::vector<std::string> objects;
  for (const auto& p : parts) {
    std::string key;
    int64_t bytes = 0;
    bool is_new = false;
    RETURN_IF_ERROR(LandObject(p.date, p.records, fetched_at, fetch.first_request, &key, &bytes, &is_new));
    if (is_new && options_.on_landed) {
      options_.on_landed({product_, key, static_cast<int64_t>(p.records.size()), bytes, p.records.back().trade_id,
                          std::nullopt, true});
    }
    objects.push_back(std::move(key));
  }
  gap.landing.clear();
  return CloseGap(std::move(gap), ids, std::move(objects), fetch.missing);
}

Status ProductIngester::CloseGap(OpenGap gap, const std::vector<int64_t>& ids, std::vector<std::string> objects,
                                 const std::vector<std::pair<int64_t, int64_t>>& remaining) {
  const TimestampMicros now = GapNow();
  ClosedGap closed;
  closed.first_id = ids.front();
  closed.last_id = ids.back();
  closed.trades = static_cast<int64_t>(ids.size());
  closed.report = gap.report;
  closed.opened_at = gap.opened_at;
  closed.closed_at = now;
  closed.attempts = gap.attempts;
  closed.objects = std::move(objects);
  closed.partial = !remaining.empty();
  RETURN_IF_ERROR(RecordClosedGap(store_, &gaps_, closed));
  std::erase_if(gaps_.open, [&](const OpenGap& g) { return g.first_id == gap.first_id; });
  for (const auto& [a, b] : remaining) {
    OpenGap rest = gap;
    rest.first_id = a;
    rest.last_id = b;
    rest.landing.clear();
    rest.next_attempt_at = now + GapRetryDelayMs(options_.gap_retry, gap.attempts + 1) * 1000;
    AddOpenGap(&gaps_, std::move(rest));
  }
  ++report_->gap_repairs;
  report_->gap_trades_repaired += closed.trades;
  spdlog::info("{}: repaired gap {}..{}: {} trades landed in {} after {} attempts{}", product_, gap.first_id,
               gap.last_id, closed.trades, fmt::join(closed.objects, ", "), closed.attempts,
               remaining.empty() ? "" : fmt::format("; {} ranges still open", remaining.size()));
  return SaveGapIndex(store_, gaps_);
}

// Runs every product's turns (ProductIngester::Step) on `workers` threads:
// a free worker takes the ready product that has been ready longest (backlog
// age first), so hundreds of products share a few threads and one rate
// limiter. A product is ready when its next turn is due, when the hints name
// a trade it lacks, or when stopping (its last turn lands what it holds).
// A product that failed is started again by a fresh ingester from `make`
// when options.on_product_failed asks for it (the others go on meanwhile).
void Schedule(std::vector<std::unique_ptr<ProductIngester>>* ingesters,
              const std::function<std::unique_ptr<ProductIngester>(size_t)>& make,
              const std::vector<std::string>& products, const IngestOptions& options, int workers,
              std::vector<Status>* statuses) {
  struct Slot {
    Clock::time_point ready_at;
    bool busy = false, done = false;
    bool restart = false;  // failed: a fresh ingester is prepared at ready_at
    Clock::time_point turn_ended;
  };
  // When slot i is due: a product the feed stopped following (hints) is
  // polled every poll_interval again, even if its last turn, taken while
  // the feed still followed it, asked for the longer safety poll.
  auto due = [&](size_t i, const Slot& slot) {
    if (options.hints == nullptr || slot.restart || options.hints->Follows(products[i])) return slot.ready_at;
    return std::min(slot.ready_at, slot.turn_ended + std::chrono::milliseconds(options.poll_interval_ms));
  };
  auto stopping = [&] { return options.stop && options.stop->load(); };
  // A failed product: started again after the delay the caller asks for, or done.
  auto retry_delay = [&](size_t i, const Status& s) -> std::optional<int64_t> {
    if (!options.on_product_failed || stopping() || s.code() == StatusCode::kCancelled) return std::nullopt;
    return options.on_product_failed(products[i], s);
  };
  std::vector<Slot> slots(ingesters->size());
  for (size_t i = 0; i < slots.size(); ++i) {
    slots[i].ready_at = Clock::now();
    if ((*statuses)[i].ok()) continue;
    if (auto delay = retry_delay(i, (*statuses)[i])) {
      slots[i].restart = true;
      slots[i].ready_at += std::chrono::milliseconds(*delay);
      (*statuses)[i] = Status::OK();
    } else {
      slots[i].done = true;
    }
  }
  std::mutex mu;
  std::condition_variable cv;
  const int max_pages = std::max(1, options.pages_per_turn);
  auto worker = [&] {
    std::unique_lock lock(mu);
    while (true) {
      const auto now = Clock::now();
      const bool stop = stopping();
      size_t best = slots.size();
      Clock::time_point best_ready_at;
      bool left = false;
      auto earliest = now + std::chrono::milliseconds(kIdleCheckMs);
      for (size_t i = 0; i < slots.size(); ++i) {
        if (slots[i].done) continue;
        if (stop && slots[i].restart && !slots[i].busy) {
          // Holds nothing: there is no last turn to give it.
          slots[i].done = true;
          (*statuses)[i] = Cancelled(fmt::format("{}: stopped before it started again", products[i]));
          continue;
        }
        left = true;
        if (slots[i].busy) continue;
        const Clock::time_point ready_at = due(i, slots[i]);
        if (stop || ready_at <= now || (!slots[i].restart && (*ingesters)[i]->HasNews())) {
          if (best == slots.size() || ready_at < best_ready_at) {
            best = i;
            best_ready_at = ready_at;
          }
        } else {
          earliest = std::min(earliest, ready_at);
        }
      }
      if (!left) break;
      if (best == slots.size()) {
        // Nothing ready: wait for a turn to come due, another worker to
        // finish, or (checked every kIdleCheckMs) hints or a stop.
        cv.wait_until(lock, earliest);
        continue;
      }
      slots[best].busy = true;
      const bool restart = slots[best].restart;
      lock.unlock();
      bool done = false;
      Clock::time_point next_turn = Clock::now();
      Status s;
      std::unique_ptr<ProductIngester> fresh;
      if (restart) {
        fresh = make(best);
        auto prepared = fresh->Prepare();
        s = prepared.status();
        if (s.ok() && options.on_product_started) options.on_product_started(products[best]);
      } else {
        s = (*ingesters)[best]->Step(max_pages, &done, &next_turn);
      }
      if (!s.ok()) s = s.WithContext(products[best]);
      const std::optional<int64_t> delay = s.ok() ? std::nullopt : retry_delay(best, s);
      lock.lock();
      slots[best].busy = false;
      slots[best].turn_ended = Clock::now();
      if (restart && s.ok()) {
        std::swap((*ingesters)[best], fresh);  // the failed one goes with `fresh`
        slots[best].restart = false;
      }
      if (delay) {
        slots[best].restart = true;
        slots[best].ready_at = Clock::now() + std::chrono::milliseconds(*delay);
      } else if (!s.ok() || done) {
        slots[best].done = true;
        (*statuses)[best] = s;
      } else {
        slots[best].ready_at = next_turn;
      }
      cv.notify_all();
      lock.unlock();
      fresh.reset();
      lock.lock();
    }
    cv.notify_all();
  };
  std::vector<std::thread> threads;
  threads.reserve(static_cast<size_t>(workers));
  for (int w = 0; w < workers; ++w) threads.emplace_back(worker);
  for (auto& t : threads) t.join();
}

Status ValidateProducts(const IngestOptions& options, RateLimiter* limiter, ClientStats* stats) {
  if (options.products.empty()) return InvalidArgument("no products given; pass --products BTC-USD,ETH-USD");
  CoinbaseClient client(options.exchange, limiter, stats);
  ASSIGN_OR_RETURN(auto listed, client.ListProducts());
  std::set<std::string> known;
  for (const auto& p : listed) known.insert(p.id);
  for (const auto& p : options.products) {
    if (!known.contains(p)) {
      return NotFound(fmt::format("product {} is not listed by the exchange (GET {}/products); check --products",
                                  p, options.exchange.base_url));
    }
  }
  return Status::OK();
}

}  // namespace

std::unique_ptr<RateLimiter> NewIngestRateLimiter(double rate_per_second, double burst) {
  return std::make_unique<RateLimiter>(rate_per_second, std::max(1.0, burst - kBurstReserve));
}

IngestReport RunIngest(ObjectStore* store, const IngestOptions& options) {
  IngestReport report;
  const auto t0 = Clock::now();
  std::unique_ptr<RateLimiter> own_limiter;
  RateLimiter* limiter = options.limiter;
  if (!limiter) {
    own_limiter = NewIngestRateLimiter(options.rate_per_second, options.burst);
    limiter = own_limiter.get();
  }
  ClientStats own_stats;
  ClientStats& stats = options.stats ? *options.stats : own_stats;
  const int64_t requests0 = stats.requests, retries0 = stats.retries, rate_limited0 = stats.rate_limited,
                server_errors0 = stats.server_errors, transport_errors0 = stats.transport_errors,
                invalid_bodies0 = stats.invalid_bodies, bytes0 = stats.bytes;
  auto finish = [&](Status s) {
    report.status = std::move(s);
    // This run's share of the (possibly shared, cumulative) counters.
    report.requests = stats.requests - requests0;
    report.retries = stats.retries - retries0;
    report.rate_limited = stats.rate_limited - rate_limited0;
    report.server_errors = stats.server_errors - server_errors0;
    report.transport_errors = stats.transport_errors - transport_errors0;
    report.invalid_bodies = stats.invalid_bodies - invalid_bodies0;
    report.response_bytes = stats.bytes - bytes0;
    report.elapsed_seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    return report;
  };
  if (Status s = ValidateProducts(options, limiter, &stats); !s.ok()) return finish(s);

  std::set<std::string> seen;
  std::vector<std::string> products;
  for (const auto& p : options.products) {
    if (seen.insert(p).second) products.push_back(p);
  }
  report.products.resize(products.size());
  std::vector<std::unique_ptr<ProductIngester>> ingesters;
  ProgressBar progress(fmt::format("{}", fmt::join(products, ",")), "trades", 0, options.progress);
  const auto make = [&](size_t i) {
    auto ing = std::make_unique<ProductIngester>(store, options, limiter, &stats, &progress, &report.products[i]);
    ing->set_product(products[i]);
    return ing;
  };
  for (size_t i = 0; i < products.size(); ++i) ingesters.push_back(make(i));
  const int workers = static_cast<int>(std::min<size_t>(
      products.size(), options.workers > 0 ? static_cast<size_t>(options.workers) : kDefaultWorkers));
  std::vector<Status> statuses(products.size());
  // Prepare on the workers too: --since costs a few dozen probes per product.
  {
    std::atomic<size_t> next{0};
    std::atomic<int64_t> expected{0};
    std::vector<std::thread> threads;
    threads.reserve(static_cast<size_t>(workers));
    for (int w = 0; w < workers; ++w) {
      threads.emplace_back([&] {
        for (size_t i = next++; i < products.size(); i = next++) {
          auto e = ingesters[i]->Prepare();
          if (!e.ok()) {
            statuses[i] = e.status().WithContext(products[i]);
            continue;
          }
          if (options.on_product_started) options.on_product_started(products[i]);
          expected += *e;
        }
      });
    }
    for (auto& t : threads) t.join();
    progress.SetTotal(expected.load());
  }
  Schedule(&ingesters, make, products, options, workers, &statuses);
  progress.Finish();
  Status first = Status::OK();
  for (size_t i = 0; i < products.size(); ++i) {
    report.products[i].status = statuses[i];
    report.products[i].low = ingesters[i]->checkpoint().low;
    report.products[i].high = ingesters[i]->checkpoint().high;
    report.products[i].high_time = ingesters[i]->checkpoint().high_time;
    report.products[i].open_gaps = static_cast<int64_t>(ingesters[i]->gaps().open.size());
    report.products[i].open_gap_ids = ingesters[i]->gaps().open_ids();
    if (first.ok() && !statuses[i].ok()) first = statuses[i];
  }
  return finish(first);
}

}  // namespace tradelake
