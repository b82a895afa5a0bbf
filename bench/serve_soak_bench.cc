// Serve soak: `tradelake serve` under 64 keep-alive connections for 10
// minutes while another process commits to the same lake about every second
// (issue 14, part 8). Not a timed test: a program that prints what it saw.
//
//   Setup: `tradelake simulate` live (BTC-USD, ETH-USD, 20 trades/s, 2 h of
//   history), `tradelake run` against it on lake L (ingest + ETL, flushing
//   every second: one catalog commit a second or so), and the measured
//   process, `tradelake serve --lake L --port 0 --threads <connections + 8>
//   --sql-max-concurrent <connections>` (open mode), which follows the
//   commits as they land (threads: one per keep-alive connection and room
//   for the samples; the cap raised so that its 429s, which are by design,
//   do not read as errors).
//   Load: wrk -t2 -c<connections> -d<duration> with a Lua script cycling
//   through the API's reads: 1m bars of the last 2 h, 1h bars of the last
//   day, /api/v1/status, /api/v1/products, the 100 newest trades and a small
//   POST /api/v1/sql (a count over Gold): every answer's status is checked
//   by wrk (Non-2xx) and transport errors are counted (Socket errors).
//   Sampled every second: serve's VmRSS, its open file descriptors
//   (/proc/<pid>/fd) and the catalog commit it serves (/metrics); printed at
//   the start of the load, at its middle and at its end, plus min/max.
//
// Verdicts (printed; exit 1 only on errors): errors = 0 (wrk's non-2xx,
// socket errors and timeouts); RSS flat: the mean over the last minute
// within 10% of the mean over the minute after the middle (the first half
// includes warm-up: caches fill, DuckDB's buffers grow; single samples saw
// by tens of MiB); no fd growth: end - middle <= 8 (the start is sampled before the
// connections open; connections come and go); the
// served commit advanced (the lake really committed under load).
//
// Usage: serve_soak_bench [--duration SECONDS (600)] [--connections N (64)]
//                         [--samples FILE] [--no-load] [--no-commits] [--keep]
//   --samples FILE   every one-second sample as CSV (t, rss_kib, fds, commit)
//   --no-load        no wrk: serve only follows the commits (to tell whether
//                    memory follows commits or requests)
//   --no-commits     `tradelake run` stops once its backfill is committed:
//                    the load on a lake that does not change
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <httplib.h>

#include "bench_util.h"

namespace tradelake {
namespace {

using bench::Children;
using bench::Clock;
using bench::g_stop;
namespace fs = std::filesystem;

int64_t RssKiB(pid_t pid) {
  const std::string s = e2e::ReadFile(fmt::format("/proc/{}/status", pid));
  const size_t at = s.find("VmRSS:");
  return at == std::string::npos ? -1 : std::strtoll(s.c_str() + at + 6, nullptr, 10);
}

int64_t OpenFds(pid_t pid) {
  std::error_code ec;
  int64_t n = 0;
  for (auto it = fs::directory_iterator(fmt::format("/proc/{}/fd", pid), ec); !ec && it != fs::directory_iterator();
       it.increment(ec)) {
    ++n;
  }
  return ec ? -1 : n;
}

int64_t ServedCommit(const std::string& url) {
  httplib::Client c(url);
  c.set_read_timeout(10);
  auto r = c.Get("/metrics");
  if (!r || r->status != 200) return -1;
  const std::string key = "\ntradelake_catalog_commit ";
  const size_t at = r->body.find(key);
  return at == std::string::npos ? -1 : std::strtoll(r->body.c_str() + at + key.size(), nullptr, 10);
}

struct Sample {
  double t = 0;  // seconds since the load began
  int64_t rss_kib = -1, fds = -1, commit = -1;
};

std::string Mib(int64_t kib) { return fmt::format("{:.1f} MiB", static_cast<double>(kib) / 1024.0); }

// wrk's Lua script: one path per request, round robin (each wrk thread and
// connection share the counter of its thread; the mix stays even).
std::string WrkScript() {
  return R"(counter = 0
local paths = {
  {"GET", "/api/v1/bars?product=BTC-USD&interval=1m&from=2h", nil},
  {"GET", "/api/v1/bars?product=ETH-USD&interval=1h&from=1d", nil},
  {"GET", "/api/v1/status", nil},
  {"GET", "/api/v1/products", nil},
  {"GET", "/api/v1/trades?product=BTC-USD&limit=100", nil},
  {"POST", "/api/v1/sql", "SELECT count(*) FROM gold.trades_hourly WHERE product_id = 'BTC-USD'"},
}
request = function()
  counter = counter + 1
  local p = paths[(counter % #paths) + 1]
  if p[3] then
    return wrk.format(p[1], p[2], {["Content-Type"] = "text/plain", ["Accept-Encoding"] = "identity"}, p[3])
  end
  return wrk.format(p[1], p[2], {["Accept-Encoding"] = "identity"})
end
)";
}

struct Flags {
  int duration_s = 600;
  int connections = 64;
  std::string samples_csv;
  bool no_load = false;
  bool no_commits = false;
  bool keep = false;
};

int Run(const fs::path& dir, Children& children, const Flags& flags) {
  const int duration_s = flags.duration_s;
  const int connections = flags.connections;
  const std::string wrk = ::access("/usr/bin/wrk", X_OK) == 0 ? "/usr/bin/wrk" : "";
  if (wrk.empty()) {
    std::fprintf(stderr, "serve_soak_bench: wrk is not installed (/usr/bin/wrk; scripts/deps.sh installs it)\n");
    return 1;
  }
  pid_t sim_pid = -1, run_pid = -1, serve_pid = -1;
  const std::string sim = bench::StartWithReadyFile(
      children, {"simulate", "--port", "0", "--products", "BTC-USD,ETH-USD", "--seed", "5", "--history", "2h",
                 "--trades-per-second", "20", "--no-rate-limit"},
      dir, "sim", "sim.url", std::chrono::seconds(30), &sim_pid);
  if (sim.empty()) {
    std::fprintf(stderr, "simulator did not start: %s\n", bench::Tail(dir / "sim.err").c_str());
    return 1;
  }
  const std::string lake = (dir / "lake").string();
  const std::string run_url = bench::StartWithReadyFile(
      children, {"run", "--lake", lake, "--products", "BTC-USD,ETH-USD", "--exchange-url", sim, "--since", "2h",
                 "--port", "0", "--rate-limit", "0", "--poll-interval", "500ms", "--flush-interval", "1s",
                 "--etl-debounce", "200ms"},
      dir, "run", "run.url", std::chrono::seconds(60), &run_pid);
  if (run_url.empty()) {
    std::fprintf(stderr, "tradelake run did not start: %s\n", bench::Tail(dir / "run.err").c_str());
    return 1;
  }
  // Wait for the backfill's first commits.
  for (int i = 0; i < 600 && !g_stop.load() && ServedCommit(run_url) < 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  if (flags.no_commits) {
    children.Stop(run_pid);
    std::printf("--no-commits: tradelake run stopped at catalog commit %lld\n",
                static_cast<long long>(ServedCommit(run_url)));
  }
  // HTTP threads: one per keep-alive connection plus room for this bench's
  // own /metrics samples (a 65th client would wait for a free thread). The
  // statement cap is raised to the connections: the soak is about
  // stability, and a 429 of the cap (by design) would read as an error.
  const std::string url = bench::StartWithReadyFile(
      children,
      {"serve", "--lake", lake, "--port", "0", "--threads", std::to_string(connections + 8), "--sql-max-concurrent",
       std::to_string(connections)},
      dir, "serve", "serve.url", std::chrono::seconds(60), &serve_pid);
  if (url.empty()) {
    std::fprintf(stderr, "tradelake serve did not start: %s\n", bench::Tail(dir / "serve.err").c_str());
    return 1;
  }
  {
    std::ofstream(dir / "soak.lua") << WrkScript();
  }
  std::printf("serve_soak_bench: tradelake serve %s (pid %d) on lake %s, committed by tradelake run (pid %d)\n",
              url.c_str(), serve_pid, lake.c_str(), run_pid);
  if (flags.no_load) {
    std::printf("load: none (--no-load) for %d s\n", duration_s);
  } else {
    std::printf("load: wrk -t2 -c%d -d%ds --timeout 10s -s soak.lua (bars 1m/1h, status, products, trades, SQL)\n",
                connections, duration_s);
  }
  std::fflush(stdout);

  const auto t0 = Clock::now();
  const pid_t wrk_pid =
      flags.no_load ? bench::SpawnProcess({"/bin/sleep", std::to_string(duration_s)}, dir / "wrk.out", dir / "wrk.err")
                    : bench::SpawnProcess(
      {wrk, "-t2", fmt::format("-c{}", connections), fmt::format("-d{}s", duration_s), "--timeout", "10s", "-s",
       (dir / "soak.lua").string(), url},
      dir / "wrk.out", dir / "wrk.err");
  if (wrk_pid < 0) return 1;
  children.Add(wrk_pid);
  std::vector<Sample> samples;
  std::optional<int> wrk_code;
  int printed = 0;
  while (!g_stop.load()) {
    Sample s;
    s.t = bench::Seconds(Clock::now() - t0);
    s.rss_kib = RssKiB(serve_pid);
    s.fds = OpenFds(serve_pid);
    s.commit = ServedCommit(url);
    samples.push_back(s);
    const double marks[] = {0.0, duration_s / 2.0};
    if (printed < 2 && s.t >= marks[printed]) {
      std::printf("%-6s t=%6.1f s  RSS %s  fds %lld  serving commit %lld\n", printed == 0 ? "start" : "middle", s.t,
                  Mib(s.rss_kib).c_str(), static_cast<long long>(s.fds), static_cast<long long>(s.commit));
      std::fflush(stdout);
      ++printed;
    }
    wrk_code = children.Wait(wrk_pid, std::chrono::seconds(1));
    if (wrk_code) break;
  }
  if (!wrk_code) return 130;
  if (!flags.samples_csv.empty()) {
    std::ofstream csv(flags.samples_csv);
    csv << "t,rss_kib,fds,commit\n";
    for (const auto& s : samples) csv << fmt::format("{:.1f},{},{},{}\n", s.t, s.rss_kib, s.fds, s.commit);
  }
  Sample end;
  end.t = bench::Seconds(Clock::now() - t0);
  end.rss_kib = RssKiB(serve_pid);
  end.fds = OpenFds(serve_pid);
  end.commit = ServedCommit(url);
  std::printf("end    t=%6.1f s  RSS %s  fds %lld  serving commit %lld\n", end.t, Mib(end.rss_kib).c_str(),
              static_cast<long long>(end.fds), static_cast<long long>(end.commit));

  // The middle sample: the first at or after half the duration.
  Sample middle = samples.back();
  for (const auto& s : samples) {
    if (s.t >= duration_s / 2.0) {
      middle = s;
      break;
    }
  }
  int64_t rss_min = INT64_MAX, rss_max = 0, fd_max = 0;
  for (const auto& s : samples) {
    rss_min = std::min(rss_min, s.rss_kib);
    rss_max = std::max(rss_max, s.rss_kib);
    fd_max = std::max(fd_max, s.fds);
  }
  const std::string out = e2e::ReadFile(dir / "wrk.out");
  std::printf("wrk (exit %d):\n%s", *wrk_code, out.c_str());
  auto number_after = [&](std::string_view key) -> int64_t {
    const size_t at = out.find(key);
    return at == std::string::npos ? 0 : std::strtoll(out.c_str() + at + key.size(), nullptr, 10);
  };
  int64_t total = 0;
  {
    const size_t at = out.find(" requests in ");
    if (at != std::string::npos) {
      size_t b = at;
      while (b > 0 && std::isdigit(static_cast<unsigned char>(out[b - 1]))) --b;
      total = std::strtoll(out.c_str() + b, nullptr, 10);
    }
  }
  const int64_t non2xx = number_after("Non-2xx or 3xx responses: ");
  int64_t socket_errors = 0;
  if (const size_t at = out.find("Socket errors: "); at != std::string::npos) {
    for (std::string_view k : {"connect ", "read ", "write ", "timeout "}) {
      const size_t p = out.find(k, at);
      if (p != std::string::npos) socket_errors += std::strtoll(out.c_str() + p + k.size(), nullptr, 10);
    }
  }
  const int64_t errors = non2xx + socket_errors + (*wrk_code == 0 ? 0 : 1);
  // RSS saws up and down by tens of MiB (DuckDB's buffers, the session's
  // periodic rebuild): single samples are compared through means over the
  // minute (at most) after the middle and the last one.
  const double window = std::min(60.0, duration_s / 4.0);
  auto mean_kib = [&](double from, double to) {
    double sum = 0;
    int n = 0;
    for (const auto& s : samples) {
      if (s.t >= from && s.t < to && s.rss_kib > 0) sum += static_cast<double>(s.rss_kib), ++n;
    }
    return n == 0 ? 0.0 : sum / n;
  };
  const double middle_mean = mean_kib(duration_s / 2.0, duration_s / 2.0 + window);
  const double end_mean = mean_kib(end.t - window, end.t + 1);
  const double rss_drift = middle_mean > 0 ? (end_mean - middle_mean) / middle_mean : 1.0;
  // From the middle on: the start is sampled before wrk's 64 connections open.
  const int64_t fd_growth = end.fds - middle.fds;
  const bool committed = end.commit > samples.front().commit;
  std::printf("\nsummary over %.0f s, %d connections: %lld requests, %lld errors (non-2xx %lld, socket %lld)\n",
              end.t, connections, static_cast<long long>(total), static_cast<long long>(errors),
              static_cast<long long>(non2xx), static_cast<long long>(socket_errors));
  std::printf("RSS start %s, middle %s, end %s (min %s, max %s)\n", Mib(samples.front().rss_kib).c_str(),
              Mib(middle.rss_kib).c_str(), Mib(end.rss_kib).c_str(), Mib(rss_min).c_str(), Mib(rss_max).c_str());
  std::printf("RSS mean over the %.0f s after the middle %s, over the last %.0f s %s: %+.1f%%\n", window,
              Mib(static_cast<int64_t>(middle_mean)).c_str(), window, Mib(static_cast<int64_t>(end_mean)).c_str(),
              100.0 * rss_drift);
  std::printf("fds start %lld, middle %lld, end %lld (max %lld)\n", static_cast<long long>(samples.front().fds),
              static_cast<long long>(middle.fds), static_cast<long long>(end.fds), static_cast<long long>(fd_max));
  std::printf("served catalog commit %lld -> %lld (%.2f commits/s)\n", static_cast<long long>(samples.front().commit),
              static_cast<long long>(end.commit),
              static_cast<double>(end.commit - samples.front().commit) / std::max(end.t, 1.0));
  std::printf("verdicts: errors = 0 %s; RSS flat (last minute's mean within 10%% of the middle minute's) %s; fd growth (end - middle) <= 8 %s; lake committed "
              "under load %s\n",
              errors == 0 ? "PASS" : "MISS", std::abs(rss_drift) <= 0.10 ? "PASS" : "MISS",
              fd_growth <= 8 ? "PASS" : "MISS",
              flags.no_commits ? "not asked (--no-commits)" : committed ? "PASS" : "MISS");
  if (!bench::Exited(serve_pid)) return errors == 0 ? 0 : 1;
  std::fprintf(stderr, "tradelake serve exited during the soak: %s\n", bench::Tail(dir / "serve.err").c_str());
  return 1;
}

}  // namespace
}  // namespace tradelake

int main(int argc, char** argv) {
  tradelake::Flags f;
  const std::string bad = tradelake::bench::ParseOptions(argc, argv,
                                                         {{"--duration", &f.duration_s},
                                                          {"--connections", &f.connections},
                                                          {"--samples", &f.samples_csv},
                                                          {"--no-load", &f.no_load},
                                                          {"--no-commits", &f.no_commits},
                                                          {"--keep", &f.keep}});
  if (!bad.empty() || f.duration_s <= 0 || f.connections <= 0) {
    std::fprintf(stderr, "serve_soak_bench: bad argument %s\nusage: serve_soak_bench [--duration SECONDS (600)] "
                         "[--connections N (64)] [--samples FILE] [--no-load] [--no-commits] [--keep]\n",
                 bad.c_str());
    return 2;
  }
  return tradelake::bench::RunInFreshDir("serve_soak_bench", f.keep, std::chrono::seconds(10),
                                         [&](const std::filesystem::path& dir, tradelake::bench::Children& children) {
                                           return tradelake::Run(dir, children, f);
                                         });
}
