#include "cli/maintenance_commands.h"

#include <fmt/format.h>

#include "cli/cli.h"
#include "core/exit_codes.h"
#include "core/time.h"
#include "etl/compact.h"
#include "etl/lease.h"
#include "etl/vacuum.h"
#include "sql/render.h"
#include "store/lake.h"

namespace tradelake {

struct MaintenanceCommands::Flags {
  CLI::App* vacuum = nullptr;
  CLI::App* compact = nullptr;
  std::string lake = "lake";
  std::string retain = "7d";
  bool dry_run = false;
  bool force = false;
  std::string target_size = "128MiB";
  int max_files = 256;
};

// Shorter retentions can delete files a running query or an ETL run in
// flight still needs; Delta's VACUUM has the same guard.
constexpr int64_t kMinSafeRetention = kMicrosPerHour;

MaintenanceCommands::MaintenanceCommands(CLI::App* app, const std::string* policies_dir)
    : f_(std::make_unique<Flags>()), policies_dir_(policies_dir) {
  Flags& f = *f_;
  f.vacuum = app->add_subcommand("vacuum", "Delete table files no snapshot within the retention can read");
  f.vacuum->footer(
      "Keeps every file live in the latest version of each table or in a version pinned by\n"
      "a kept catalog commit, files removed less than --retain ago (readers of older\n"
      "versions, Athena/Spark time travel), the Delta logs, and unreferenced files younger\n"
      "than --retain (a commit in flight). Deletes the rest: files replaced by ETL runs or\n"
      "compaction longer ago, and files of runs killed before they committed. On S3 an\n"
      "unreferenced file's age counts from the first vacuum that saw it.\n"
      "Runs as the etl role and takes the ETL lease (except with --dry-run).\n\n"
      "Examples:\n"
      "  tradelake vacuum --lake lake --dry-run\n"
      "  tradelake vacuum --lake s3://bucket/lake --retain 30d");
  f.vacuum->add_option("--lake", f.lake, "lake folder, mem:// or s3://bucket/prefix")->capture_default_str();
  f.vacuum->add_option("--retain", f.retain, "keep files removed or written within this long, e.g. 7d, 12h")
      ->capture_default_str();
  f.vacuum->add_flag("--dry-run", f.dry_run, "list what would be deleted; delete nothing");
  f.vacuum->add_flag("--force", f.force, "allow --retain below 1h (can break running queries and ETL runs)");

  f.compact = app->add_subcommand("compact", "Merge small table files into fewer large ones; no row changes");
  f.compact->footer(
      "Merges small files of a partition (Silver, rejected, audit: size tiers x8 from 64 KiB\n"
      "up to --target-size, merged once a tier holds 8 files; Gold: files covering the same\n"
      "day, month or year) in one Delta commit per table with dataChange=false. Every query\n"
      "answers the same before and after; streaming readers of the Delta log skip it. The\n"
      "replaced files stay until `tradelake vacuum`. At most --max-files files are rewritten\n"
      "per call; run again for the rest. Runs as the etl role and takes the ETL lease.\n\n"
      "Example:\n  tradelake compact --lake lake --target-size 128MiB");
  f.compact->add_option("--lake", f.lake, "lake folder, mem:// or s3://bucket/prefix")->capture_default_str();
  f.compact->add_option("--target-size", f.target_size, "size of the files to make, e.g. 128MiB, 64MB")
      ->capture_default_str();
  f.compact->add_option("--max-files", f.max_files, "rewrite at most this many files in this call")
      ->check(CLI::Range(2, 1'000'000))
      ->capture_default_str();
}

MaintenanceCommands::~MaintenanceCommands() = default;

namespace {

int RunVacuum(const std::string& policies_dir, const std::string& lake, const std::string& retain, bool dry_run,
              bool force) {
  auto retain_micros = ParseDuration(retain);
  if (!retain_micros.ok()) return FailCommand(retain_micros.status().WithContext("--retain"));
  if (*retain_micros < kMinSafeRetention && !force) {
    return FailCommand(InvalidArgument(fmt::format(
        "--retain {} is shorter than 1h: files a running query or ETL run still reads could go; add --force "
        "if nothing else uses the lake",
        retain)));
  }
  auto store = OpenLakeAs(lake, "etl", policies_dir);
  if (!store.ok()) return FailCommand(store.status());
  std::unique_ptr<EtlLease> lease;
  if (!dry_run) {
    auto taken = EtlLease::Acquire(store->get(), LeaseOptions{});
    if (!taken.ok()) return FailCommand(taken.status());
    lease = std::move(taken).value();
  }
  VacuumOptions o;
  o.retain_micros = *retain_micros;
  o.dry_run = dry_run;
  o.lease = lease.get();
  auto report = VacuumLake(store->get(), o);
  if (!report.ok()) return FailCommand(report.status());
  if (dry_run) {
    for (const std::string& key : report->deleted) fmt::print("would delete {}\n", key);
  }
  for (const auto& [table, t] : report->tables) {
    if (t.files_listed == 0) continue;
    fmt::print("{:<22} {} {:>6} files ({:>10}), kept {} live or pinned, {} recently removed, {} young unreferenced\n", table,
               dry_run ? "would delete" : "deleted", t.files_deleted, HumanBytes(t.bytes_deleted),
               t.files_kept_live, t.files_kept_tombstoned, t.files_kept_young);
  }
  fmt::print("{} {} files, {}; kept {} files, {} (retention {})\n", dry_run ? "would delete" : "deleted",
             report->files_deleted, HumanBytes(report->bytes_deleted), report->files_kept,
             HumanBytes(report->bytes_kept), retain);
  return kExitOk;
}

int RunCompact(const std::string& policies_dir, const std::string& lake, const std::string& target_size,
               int max_files) {
  auto target = ParseByteSize(target_size);
  if (!target.ok()) return FailCommand(target.status().WithContext("--target-size"));
  if (*target < (int64_t{1} << 20)) return FailCommand(InvalidArgument("--target-size must be at least 1MiB"));
  auto store = OpenLakeAs(lake, "etl", policies_dir);
  if (!store.ok()) return FailCommand(store.status());
  auto lease = EtlLease::Acquire(store->get(), LeaseOptions{});
  if (!lease.ok()) return FailCommand(lease.status());
  CompactOptions o;
  o.target_file_bytes = *target;
  o.max_input_files = max_files;
  o.lease = lease->get();
  auto report = CompactLake(store->get(), o);
  if (!report.ok()) return FailCommand(report.status());
  if (report->nothing_to_do) {
    fmt::print("nothing to compact (catalog commit {})\n", report->seq);
    return kExitOk;
  }
  for (const auto& [table, t] : report->tables) {
    fmt::print("{:<22} {:>5} files ({:>10}) -> {:>3} files ({:>10}), {} rows\n", table, t.files_removed,
               HumanBytes(t.bytes_removed), t.files_added, HumanBytes(t.bytes_added), t.rows);
  }
  fmt::print("committed catalog commit {}: {} files -> {}{}\n", report->seq, report->files_removed,
             report->files_added,
             report->budget_exhausted ? "; more files qualify, run `tradelake compact` again" : "");
  return kExitOk;
}

}  // namespace

std::optional<int> MaintenanceCommands::RunIfParsed() {
  Flags& f = *f_;
  if (f.vacuum->parsed()) return RunVacuum(*policies_dir_, f.lake, f.retain, f.dry_run, f.force);
  if (f.compact->parsed()) return RunCompact(*policies_dir_, f.lake, f.target_size, f.max_files);
  return std::nullopt;
}

}  // namespace tradelake
