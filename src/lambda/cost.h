// `tradelake cost`: what a deployment costs per month, from the products
// followed, the requests and bytes a step measurably makes (the "store"
// counts every step answers with, lambda/step.h) and AWS list prices
// written down with their date. Next to it, the original serverless design
// (a polling Lambda writing raw JSON, an hourly Glue Spark job, Athena) under
// the same load, so the two can be compared line by line.
//
// An estimate, not a bill: prices are us-east-1 list prices on
// AwsPrices::date without the free tier, and the load figures are
// assumptions stated in the output (every one is a flag).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tradelake {

// AWS list prices, us-east-1, on `date` (https://aws.amazon.com/<service>/pricing/).
struct AwsPrices {
  std::string date = "2025-06-01";
  double s3_gb_month = 0.023;              // S3 Standard, first 50 TB
  double s3_put_per_1000 = 0.005;          // PUT, COPY, POST, LIST
  double s3_get_per_1000 = 0.0004;         // GET, SELECT and all other requests
  double lambda_gb_second = 0.0000166667;  // x86_64
  double lambda_per_million = 0.20;
  double athena_per_tb = 5.0;              // scanned, 10 MB minimum per query
  double logs_ingest_per_gb = 0.50;        // CloudWatch Logs, standard class
  double logs_store_gb_month = 0.03;
  double metric_month = 0.30;              // custom metric (EMF), first 10,000
  double alarm_month = 0.10;               // standard-resolution alarm
  double glue_dpu_hour = 0.44;             // Glue Spark job, per second, 1 minute minimum
};

// The load. Per-step request counts are what one step answers in its
// "store" counts (measured on the simulator; see docs/aws.md).
struct CostInputs {
  int products = 1;
  double trades_per_product_day = 100'000;
  double months_of_data = 12;                 // lake size at which storage is priced
  double steps_per_month = 43'830;            // rate(1 minute): 60 * 24 * 30.44
  // The ETL function's schedule: every minute (the template), or less often
  // for less freshness, e.g. 60 for the original design's hourly tables.
  double etl_every_minutes = 1;
  // Measured per step: the "store" counts of steady-state steps (a few
  // seconds to a minute of new trades) on the simulator and moto S3 with 1, 3
  // and 6 products, 2026-12-06 (docs/aws.md, "Cost"). Ingest is exactly
  // linear: 1 + 2n GETs, 2n LISTs, 3n PUTs. The ETL's counts grow by about 5
  // requests per Delta version until the next checkpoint (every 10th version
  // also writes checkpoints and compacts): its figures are the cycle's
  // average, 1.4 times the first step's (gets+heads 23 + 11n, lists 13,
  // puts+deletes 9 + 5n).
  double ingest_puts_base = 0, ingest_puts_per_product = 3;
  double ingest_gets_base = 1, ingest_gets_per_product = 2;
  double ingest_lists_per_product = 2;
  double etl_puts_base = 13, etl_puts_per_product = 7;
  double etl_gets_base = 33, etl_gets_per_product = 15;
  double etl_lists_base = 18;
  // Seconds per step, ingest + ETL: 1.0 s, 1.7 s and 2.8 s for 1, 3 and 6
  // products on the build machine (2 shared cores), not on Lambda.
  double ingest_seconds_base = 0.3, ingest_seconds_per_product = 0.1;
  double etl_seconds_base = 0.4, etl_seconds_per_product = 0.25;
  double memory_gb = 1.0;                     // Lambda memory (both functions)
  double bronze_bytes_per_trade = 45;         // zstd JSON lines
  double silver_bytes_per_trade = 35;         // Parquet, after compaction
  double gold_bytes_per_product_day = 60'000; // 1m bars dominate
  double athena_queries_per_day = 100;
  double athena_bytes_per_query = 50e6;       // a Gold query that prunes by product and time
  double log_bytes_per_step = 1'500;          // EMF lines + Lambda's START/END/REPORT
  int emf_metrics = 16;                       // distinct metric x dimension sets
  int alarms = 2;
  // The original design's Glue job: runs per day, DPUs, minutes billed per run.
  double glue_runs_per_day = 24;
  double glue_minutes_per_run = 3;
  double raw_json_bytes_per_trade = 160;      // the original lands uncompressed JSON
};

struct CostLine {
  std::string service;  // "S3 storage", "Lambda compute", ...
  std::string basis;    // how it was computed, e.g. "87,660 requests x $0.20/M"
  double usd = 0;
};

struct CostEstimate {
  std::string design;  // "tradelake" or "original (Lambda + Glue + Athena)"
  std::vector<CostLine> lines;
  double total() const;
};

CostEstimate EstimateTradelake(const CostInputs& in, const AwsPrices& p);
CostEstimate EstimateOriginal(const CostInputs& in, const AwsPrices& p);

// DPUs the original's Glue job needs for `products` (2, the G.1X minimum, and
// one more per 25 products).
double GlueDpusFor(int products);

// A plain-text table of both estimates side by side, with the price date.
std::string RenderCostComparison(const CostInputs& in, const AwsPrices& p);

}  // namespace tradelake
