#include "lambda/cost.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace tradelake {

namespace {
constexpr double kGB = 1e9;  // AWS bills storage and transfer in GB of 2^30; the difference is below the estimate's error
constexpr double kDaysPerMonth = 30.44;
}  // namespace

double CostEstimate::total() const {
  double t = 0;
  for (const auto& l : lines) t += l.usd;
  return t;
}

double GlueDpusFor(int products) { return 2.0 + std::floor(static_cast<double>(std::max(products - 1, 0)) / 25.0); }

CostEstimate EstimateTradelake(const CostInputs& in, const AwsPrices& p) {
  CostEstimate e;
  e.design = "tradelake (Lambda step)";
  const double n = in.products;
  const double steps = in.steps_per_month;
  const double etl_steps = steps / std::max(in.etl_every_minutes, 1.0);
  // Two functions, each invoked by its schedule.
  const double invocations = steps + etl_steps;
  const double puts = steps * (in.ingest_puts_base + in.ingest_puts_per_product * n + in.ingest_lists_per_product * n) +
                      etl_steps * (in.etl_puts_base + in.etl_puts_per_product * n + in.etl_lists_base);
  const double gets = steps * (in.ingest_gets_base + in.ingest_gets_per_product * n) +
                      etl_steps * (in.etl_gets_base + in.etl_gets_per_product * n);
  const double trades_month = n * in.trades_per_product_day * kDaysPerMonth;
  const double stored = trades_month * in.months_of_data * (in.bronze_bytes_per_trade + in.silver_bytes_per_trade) +
                        n * in.gold_bytes_per_product_day * kDaysPerMonth * in.months_of_data;
  // An ETL run every k minutes processes k minutes of trades; its time is
  // taken as that of a one-minute run (not measured for longer runs, which
  // this underestimates).
  const double seconds = steps * (in.ingest_seconds_base + in.ingest_seconds_per_product * n) +
                         etl_steps * (in.etl_seconds_base + in.etl_seconds_per_product * n);
  const double gb_s = seconds * in.memory_gb;
  const double scanned = in.athena_queries_per_day * kDaysPerMonth * std::max(in.athena_bytes_per_query, 10e6);
  const double logs = invocations * in.log_bytes_per_step;
  if (in.etl_every_minutes > 1) e.design = fmt::format("tradelake (Lambda step, ETL every {:g} min)", in.etl_every_minutes);
  e.lines = {
      {"S3 storage", fmt::format("{:.1f} GB after {:g} months x ${}/GB-month", stored / kGB, in.months_of_data,
                                 p.s3_gb_month),
       stored / kGB * p.s3_gb_month},
      {"S3 PUT/LIST", fmt::format("{:.0f} requests x ${}/1000", puts, p.s3_put_per_1000), puts / 1000 * p.s3_put_per_1000},
      {"S3 GET", fmt::format("{:.0f} requests x ${}/1000", gets, p.s3_get_per_1000), gets / 1000 * p.s3_get_per_1000},
      {"Lambda requests", fmt::format("{:.0f} invocations x ${}/M", invocations, p.lambda_per_million),
       invocations / 1e6 * p.lambda_per_million},
      {"Lambda compute", fmt::format("{:.0f} GB-s x ${}", gb_s, p.lambda_gb_second), gb_s * p.lambda_gb_second},
      {"Athena", fmt::format("{:.1f} TB scanned x ${}/TB", scanned / 1e12, p.athena_per_tb),
       scanned / 1e12 * p.athena_per_tb},
      {"CloudWatch", fmt::format("{:.2f} GB logs, {} EMF metrics, {} alarms", logs / kGB, in.emf_metrics, in.alarms),
       logs / kGB * (p.logs_ingest_per_gb + p.logs_store_gb_month) + in.emf_metrics * p.metric_month +
           in.alarms * p.alarm_month},
  };
  return e;
}

CostEstimate EstimateOriginal(const CostInputs& in, const AwsPrices& p) {
  CostEstimate e;
  e.design = "original (Lambda + Glue + Athena)";
  const double n = in.products;
  const double steps = in.steps_per_month;
  // One polling Lambda for all products, one raw JSON object per product per
  // poll; the Glue job lists and reads every new object and writes Parquet.
  const double invocations = steps;
  const double raw_objects = steps * n;
  const double glue_runs = in.glue_runs_per_day * kDaysPerMonth;
  const double puts = raw_objects + glue_runs * (2 + 4 * n);  // raw objects; per Glue run: listings, Parquet outputs
  const double gets = raw_objects + glue_runs * 10;           // Glue reads each raw object once
  const double trades_month = n * in.trades_per_product_day * kDaysPerMonth;
  const double stored = trades_month * in.months_of_data * (in.raw_json_bytes_per_trade + in.silver_bytes_per_trade) +
                        n * in.gold_bytes_per_product_day * kDaysPerMonth * in.months_of_data;
  const double seconds = steps * (in.ingest_seconds_base + in.ingest_seconds_per_product * n);
  const double gb_s = seconds * in.memory_gb;
  const double dpu_hours = glue_runs * GlueDpusFor(in.products) * std::max(in.glue_minutes_per_run, 1.0) / 60.0;
  const double scanned = in.athena_queries_per_day * kDaysPerMonth * std::max(in.athena_bytes_per_query, 10e6);
  const double logs = invocations * in.log_bytes_per_step + glue_runs * 200'000;  // Spark driver logs
  e.lines = {
      {"S3 storage", fmt::format("{:.1f} GB after {:g} months x ${}/GB-month", stored / kGB, in.months_of_data,
                                 p.s3_gb_month),
       stored / kGB * p.s3_gb_month},
      {"S3 PUT/LIST", fmt::format("{:.0f} requests x ${}/1000", puts, p.s3_put_per_1000), puts / 1000 * p.s3_put_per_1000},
      {"S3 GET", fmt::format("{:.0f} requests x ${}/1000", gets, p.s3_get_per_1000), gets / 1000 * p.s3_get_per_1000},
      {"Lambda requests", fmt::format("{:.0f} invocations x ${}/M", invocations, p.lambda_per_million),
       invocations / 1e6 * p.lambda_per_million},
      {"Lambda compute", fmt::format("{:.0f} GB-s x ${}", gb_s, p.lambda_gb_second), gb_s * p.lambda_gb_second},
      {"Glue", fmt::format("{:.0f} runs x {:g} DPU x {:g} min = {:.0f} DPU-h x ${}", glue_runs, GlueDpusFor(in.products),
                           in.glue_minutes_per_run, dpu_hours, p.glue_dpu_hour),
       dpu_hours * p.glue_dpu_hour},
      {"Athena", fmt::format("{:.1f} TB scanned x ${}/TB", scanned / 1e12, p.athena_per_tb),
       scanned / 1e12 * p.athena_per_tb},
      {"CloudWatch", fmt::format("{:.2f} GB logs, {} alarms", logs / kGB, in.alarms),
       logs / kGB * (p.logs_ingest_per_gb + p.logs_store_gb_month) + in.alarms * p.alarm_month},
  };
  return e;
}

std::string RenderCostComparison(const CostInputs& in, const AwsPrices& p) {
  const CostEstimate a = EstimateTradelake(in, p);
  const CostEstimate b = EstimateOriginal(in, p);
  std::string out = fmt::format(
      "Monthly estimate for {} product(s), {:g} trades/product/day, storage after {:g} months, "
      "{:g} Athena queries/day\n(AWS list prices, us-east-1, {}; no free tier)\n\n",
      in.products, in.trades_per_product_day, in.months_of_data, in.athena_queries_per_day, p.date);
  for (const CostEstimate* e : {&a, &b}) {
    out += fmt::format("{}\n", e->design);
    for (const auto& l : e->lines) out += fmt::format("  {:<16} {:>10}  {}\n", l.service, fmt::format("${:.2f}", l.usd), l.basis);
    out += fmt::format("  {:<16} {:>10}\n\n", "total", fmt::format("${:.2f}", e->total()));
  }
  return out;
}

}  // namespace tradelake
