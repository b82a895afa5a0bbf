// The Runtime API client and the event loop against a fake Runtime API on
// 127.0.0.1, written from AWS's documentation
// (https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html).
#include "lambda/runtime_client.h"

#include <filesystem>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "core/curl.h"
#include "lambda/step.h"
#include "pipeline/schedule.h"
#include "store/lake.h"

namespace tradelake {
namespace {

struct Posted {
  std::string path, error_type, body;
};

class FakeRuntimeApi {
 public:
  explicit FakeRuntimeApi(std::vector<std::string> events) : events_(std::move(events)) {
    server_.Get("/2018-06-01/runtime/invocation/next", [this](const httplib::Request&, httplib::Response& res) {
      std::lock_guard<std::mutex> lock(mu_);
      if (next_ >= events_.size()) {
        res.status = 500;
        return;
      }
      const size_t i = next_++;
      res.set_header("Lambda-Runtime-Aws-Request-Id", "req-" + std::to_string(i));
      res.set_header("Lambda-Runtime-Deadline-Ms", "4102444800000");  // 2100-01-01
      res.set_header("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:tradelake-step");
      res.set_header("Lambda-Runtime-Trace-Id", "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1");
      res.set_content(events_[i], "application/json");
    });
    auto post = [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard<std::mutex> lock(mu_);
      posted_.push_back({req.path, req.get_header_value("Lambda-Runtime-Function-Error-Type"), req.body});
      res.status = 202;
      res.set_content(R"({"status":"OK"})", "application/json");
    };
    server_.Post(R"(/2018-06-01/runtime/invocation/([^/]+)/(response|error))", post);
    server_.Post("/2018-06-01/runtime/init/error", post);
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    // Bound already: connections wait in the backlog until listen_after_bind serves them.
  }
  ~FakeRuntimeApi() {
    server_.stop();
    thread_.join();
  }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  std::vector<Posted> posted() {
    std::lock_guard<std::mutex> lock(mu_);
    return posted_;
  }

 private:
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  std::mutex mu_;
  std::vector<std::string> events_;
  size_t next_ = 0;
  std::vector<Posted> posted_;
};

TEST(RuntimeClient, ReadsTheInvocationHeadersAndPostsResponsesAndErrors) {
  FakeRuntimeApi api({R"({"action":"etl"})"});
  auto client = RuntimeClient::Create(api.address());
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  auto inv = (*client)->Next();
  ASSERT_TRUE(inv.ok()) << inv.status().ToString();
  EXPECT_EQ(inv->request_id, "req-0");
  EXPECT_EQ(inv->deadline_ms, 4102444800000);
  EXPECT_EQ(inv->trace_id, "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1");
  EXPECT_EQ(inv->function_arn, "arn:aws:lambda:us-east-1:123456789012:function:tradelake-step");
  EXPECT_EQ(inv->body, R"({"action":"etl"})");
  ASSERT_TRUE((*client)->PostResponse(inv->request_id, R"({"ok":true})").ok());
  ASSERT_TRUE((*client)->PostError("req-0", {"tradelake.Unavailable", "exchange down"}).ok());
  ASSERT_TRUE((*client)->PostInitError({"Runtime.InitError", "no lake"}).ok());
  auto p = api.posted();
  ASSERT_EQ(p.size(), 3u);
  EXPECT_EQ(p[0].path, "/2018-06-01/runtime/invocation/req-0/response");
  EXPECT_EQ(p[0].body, R"({"ok":true})");
  EXPECT_EQ(p[1].path, "/2018-06-01/runtime/invocation/req-0/error");
  EXPECT_EQ(p[1].error_type, "tradelake.Unavailable");
  auto err = nlohmann::json::parse(p[1].body);
  EXPECT_EQ(err["errorType"], "tradelake.Unavailable");
  EXPECT_EQ(err["errorMessage"], "exchange down");
  EXPECT_TRUE(err["stackTrace"].is_array());
  EXPECT_EQ(p[2].path, "/2018-06-01/runtime/init/error");
  EXPECT_EQ(p[2].error_type, "Runtime.InitError");
}

TEST(RuntimeClient, AnUnreachableApiIsUnavailable) {
  // Port 1 on 127.0.0.1: nothing listens there.
  auto client = RuntimeClient::Create("127.0.0.1:1");
  ASSERT_TRUE(client.ok());
  auto inv = (*client)->Next();
  ASSERT_FALSE(inv.ok());
  EXPECT_EQ(inv.status().code(), StatusCode::kUnavailable);
  EXPECT_FALSE(RuntimeClient::Create("").ok());
}

TEST(LambdaLoop, AnswersEachEventAndReportsBadEventsAsHandlerErrors) {
  const auto lake = std::filesystem::temp_directory_path() / ("tl-lambda-loop-" + std::to_string(::getpid()));
  std::filesystem::remove_all(lake);
  std::filesystem::create_directories(lake);
  FakeRuntimeApi api({R"({"action":"etl"})", R"({"action":"nope"})", R"({"action":"ingest","products":["BTC-USD"]})"});
  auto client = RuntimeClient::Create(api.address());
  ASSERT_TRUE(client.ok());
  StepConfig c;
  c.lake = lake.string();
  c.ingest.products = {"BTC-USD"};
  c.ingest.exchange.base_url = "http://127.0.0.1:9";  // the discard port: nothing listens
  c.ingest.exchange.retry.max_attempts = 1;
  testing::internal::CaptureStdout();
  Status s = ServeLambdaEvents(client->get(), c, 3);
  const std::string out = testing::internal::GetCapturedStdout();
  ASSERT_TRUE(s.ok()) << s.ToString();
  auto p = api.posted();
  ASSERT_EQ(p.size(), 3u);
  EXPECT_EQ(p[0].path, "/2018-06-01/runtime/invocation/req-0/response") << p[0].body;
  auto r = nlohmann::json::parse(p[0].body);
  EXPECT_EQ(r["action"], "etl");
  EXPECT_EQ(r["etl"]["ran"], true);
  EXPECT_EQ(p[1].path, "/2018-06-01/runtime/invocation/req-1/error");
  EXPECT_EQ(p[1].error_type, "tradelake.InvalidArgument");
  EXPECT_EQ(p[2].path, "/2018-06-01/runtime/invocation/req-2/error");
  // Nothing listens at the exchange URL: ingest fails after its retries,
  // a handler error whose type says it may succeed later.
  EXPECT_EQ(p[2].error_type, "tradelake.Unavailable") << p[2].body;
  // One EMF line per step run.
  EXPECT_NE(out.find(R"("Step":"etl")"), std::string::npos) << out;
  EXPECT_NE(out.find(R"("Step":"ingest")"), std::string::npos) << out;
  std::filesystem::remove_all(lake);
}

TEST(LambdaStep, RunsTheEtlOnlyWhenEnoughTimeIsLeft) {
  const auto lake = std::filesystem::temp_directory_path() / ("tl-lambda-etl-" + std::to_string(::getpid()));
  std::filesystem::create_directories(lake);
  StepConfig c;
  c.lake = lake.string();
  c.etl_min_ms = 15'000;
  c.now_ms = [] { return int64_t{1'000'000}; };
  LambdaEvent e;
  e.action = StepAction::kEtl;
  StepOutcome o = RunLambdaStep(c, e, /*deadline_ms=*/1'000'000 + 10'000);
  ASSERT_TRUE(o.status.ok()) << o.status.ToString();
  EXPECT_EQ(o.response["etl"]["ran"], false);
  ASSERT_EQ(o.emf.size(), 1u);
  EXPECT_NE(o.emf[0].find(R"("EtlSkipped":1)"), std::string::npos) << o.emf[0];
  std::filesystem::remove_all(lake);
}

TEST(LambdaStep, APausedScheduleSkipsIngestWithoutAnExchangeRequest) {
  const auto lake = std::filesystem::temp_directory_path() / ("tl-lambda-pause-" + std::to_string(::getpid()));
  std::filesystem::remove_all(lake);
  std::filesystem::create_directories(lake);
  {
    auto store = OpenLakeAs(lake.string(), "ingest");
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    Schedule paused;
    paused.paused = true;
    paused.by = "cli";
    ASSERT_TRUE(SaveSchedule(store->get(), paused).ok());
  }
  StepConfig c;
  c.lake = lake.string();
  c.ingest.products = {"BTC-USD"};
  c.ingest.exchange.base_url = "http://127.0.0.1:9";  // any request would fail the step
  c.ingest.exchange.retry.max_attempts = 1;
  LambdaEvent e;  // the scheduled step
  StepOutcome o = RunLambdaStep(c, e, /*deadline_ms=*/0);
  ASSERT_TRUE(o.status.ok()) << o.status.ToString();
  EXPECT_EQ(o.response["ingest"]["paused"], true);
  EXPECT_EQ(o.response["ingest"]["trades_landed"], 0);
  EXPECT_EQ(o.response["etl"]["ran"], true) << "the ETL still processes what has landed";
  std::filesystem::remove_all(lake);
}

TEST(CaBundle, SslCertFileWinsOverEveryDefault) {
  setenv("SSL_CERT_FILE", "/nonexistent/bundle.pem", 1);
  EXPECT_EQ(curl::ChooseCaBundle(), "/nonexistent/bundle.pem");
  unsetenv("SSL_CERT_FILE");
  // On Debian libcurl's own default exists, so it is left alone.
  if (std::filesystem::exists("/etc/ssl/certs/ca-certificates.crt")) {
    EXPECT_EQ(curl::ChooseCaBundle(), "");
  }
}

}  // namespace
}  // namespace tradelake
