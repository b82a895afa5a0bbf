#include "query/duckdb.h"

#include <unistd.h>

#include <filesystem>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace tradelake {
namespace {

using ::testing::HasSubstr;

// A fresh temporary folder, removed with everything in it at scope exit.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "tl_duckdb_test_XXXXXX").string();
    path_ = ::mkdtemp(pattern.data()) != nullptr ? pattern : "";
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

class DuckDbTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<std::unique_ptr<Database>> db = Database::Open(":memory:");
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(db).value();
    Result<Connection> con = db_->Connect();
    ASSERT_TRUE(con.ok()) << con.status().ToString();
    con_.emplace(std::move(con).value());
  }

  QueryResult MustQuery(std::string_view sql) {
    Result<QueryResult> r = con_->Query(sql);
    EXPECT_TRUE(r.ok()) << sql << ": " << r.status().ToString();
    if (!r.ok()) std::abort();  // the rest of the test would read a missing result
    return std::move(r).value();
  }

  std::unique_ptr<Database> db_;
  std::optional<Connection> con_;
};

TEST_F(DuckDbTest, SelectsAConstant) {
  QueryResult r = MustQuery("SELECT 42 AS answer");
  EXPECT_EQ(r.row_count(), 1u);
  ASSERT_EQ(r.column_count(), 1u);
  EXPECT_EQ(r.column_name(0), "answer");
  EXPECT_EQ(r.column_type(0), DUCKDB_TYPE_INTEGER);
  EXPECT_EQ(r.column_type_name(0), "INTEGER");
  EXPECT_EQ(r.GetString(0, 0), "42");
  EXPECT_EQ(r.statement_type(), DUCKDB_STATEMENT_TYPE_SELECT);
}

TEST_F(DuckDbTest, RoundTripsAThirtyEightDigitDecimalExactly) {
  QueryResult r = MustQuery(
      "SELECT CAST('123456789012345678.123456789012345678' AS DECIMAL(38,18)) AS price");
  EXPECT_EQ(r.column_type(0), DUCKDB_TYPE_DECIMAL);
  EXPECT_EQ(r.column_type_name(0), "DECIMAL(38,18)");
  EXPECT_EQ(r.GetString(0, 0), "123456789012345678.123456789012345678");
}

TEST_F(DuckDbTest, ReportsNullsAndManyRows) {
  QueryResult r = MustQuery("SELECT i, CASE WHEN i % 2 = 0 THEN NULL ELSE 'odd' END AS s "
                            "FROM range(5000) t(i) ORDER BY i");
  EXPECT_EQ(r.row_count(), 5000u);
  EXPECT_EQ(r.column_names(), (std::vector<std::string>{"i", "s"}));
  EXPECT_TRUE(r.IsNull(0, 1));
  EXPECT_EQ(r.GetString(0, 1), std::nullopt);
  EXPECT_EQ(r.GetStringOr(0, 1, "NULL"), "NULL");
  EXPECT_EQ(r.GetString(4999, 0), "4999");
  EXPECT_EQ(r.GetString(4999, 1), "odd");
}

TEST_F(DuckDbTest, ReadsNestedTypesOnlyWhenCastToVarchar) {
  QueryResult r = MustQuery("SELECT [1, 2, 3] AS l, [1, 2, 3]::VARCHAR AS s");
  EXPECT_EQ(r.column_type_name(0), "LIST");
  EXPECT_EQ(r.GetString(0, 0), "");
  EXPECT_EQ(r.GetString(0, 1), "[1, 2, 3]");
}

TEST_F(DuckDbTest, WritesAndReadsBackParquet) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  const std::string file = dir.path() + "/trades.parquet";
  QueryResult copy = MustQuery(
      "COPY (SELECT 'BTC-USD' AS product_id, 1000 + i AS trade_id, "
      "CAST('96500.01' AS DECIMAL(38,18)) AS price, "
      "TIMESTAMP '2024-05-01 12:00:44.39' AS time FROM range(3) t(i)) TO '" + file +
      "' (FORMAT parquet)");
  EXPECT_EQ(copy.statement_type(), DUCKDB_STATEMENT_TYPE_COPY);
  ASSERT_TRUE(std::filesystem::exists(file));

  QueryResult r = MustQuery("SELECT product_id, trade_id, price, time FROM read_parquet('" + file +
                            "') ORDER BY trade_id");
  ASSERT_EQ(r.row_count(), 3u);
  EXPECT_EQ(r.GetString(2, 0), "BTC-USD");
  EXPECT_EQ(r.GetString(2, 1), "1002");
  EXPECT_EQ(r.column_type_name(2), "DECIMAL(38,18)");
  EXPECT_EQ(r.GetString(0, 2), "96500.010000000000000000");
  EXPECT_EQ(r.GetString(0, 3), "2024-05-01 12:00:44.39");
}

TEST_F(DuckDbTest, SqlErrorsCarryDuckDbsMessage) {
  Result<QueryResult> syntax = con_->Query("SELEC 1");
  ASSERT_FALSE(syntax.ok());
  EXPECT_EQ(syntax.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(syntax.status().message(), HasSubstr("syntax error"));

  Result<QueryResult> missing = con_->Query("SELECT * FROM no_such_table");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(missing.status().message(), HasSubstr("no_such_table"));
}

TEST_F(DuckDbTest, MissingFilesAreIoErrors) {
  Result<QueryResult> r = con_->Query("SELECT * FROM read_parquet('/nonexistent/x.parquet')");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kIOError) << r.status().ToString();
  EXPECT_THAT(r.status().message(), HasSubstr("/nonexistent/x.parquet"));
}

TEST_F(DuckDbTest, PreparedStatementsKnowTheirTypeAndBindParameters) {
  Result<PreparedStatement> select = con_->Prepare("SELECT $1::VARCHAR || '-USD', $2::BIGINT + 1");
  ASSERT_TRUE(select.ok()) << select.status().ToString();
  EXPECT_EQ(select->statement_type(), DUCKDB_STATEMENT_TYPE_SELECT);
  EXPECT_EQ(StatementTypeName(select->statement_type()), "SELECT");
  EXPECT_EQ(select->parameter_count(), 2u);
  ASSERT_TRUE(select->BindString(1, "BTC").ok());
  ASSERT_TRUE(select->BindInt64(2, 41).ok());
  EXPECT_FALSE(select->BindInt64(3, 0).ok());
  Result<QueryResult> r = select->Execute();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->GetString(0, 0), "BTC-USD");
  EXPECT_EQ(r->GetString(0, 1), "42");

  MustQuery("CREATE TABLE t (x INTEGER)");
  Result<PreparedStatement> insert = con_->Prepare("INSERT INTO t VALUES (1), (2)");
  ASSERT_TRUE(insert.ok());
  EXPECT_EQ(insert->statement_type(), DUCKDB_STATEMENT_TYPE_INSERT);
  Result<QueryResult> inserted = insert->Execute();
  ASSERT_TRUE(inserted.ok());
  EXPECT_EQ(inserted->rows_changed(), 2u);

  Result<PreparedStatement> copy = con_->Prepare("COPY t TO '/tmp/never_written.csv'");
  ASSERT_TRUE(copy.ok()) << copy.status().ToString();
  EXPECT_EQ(copy->statement_type(), DUCKDB_STATEMENT_TYPE_COPY);
  Result<PreparedStatement> attach = con_->Prepare("ATTACH ':memory:' AS other");
  ASSERT_TRUE(attach.ok()) << attach.status().ToString();
  EXPECT_EQ(attach->statement_type(), DUCKDB_STATEMENT_TYPE_ATTACH);
}

TEST_F(DuckDbTest, PrepareRejectsBadSqlAndSeveralStatements) {
  Result<PreparedStatement> bad = con_->Prepare("SELEC 1");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), HasSubstr("syntax error"));
  EXPECT_FALSE(con_->Prepare("SELECT 1; SELECT 2").ok());
}

TEST(Database, RejectsUnknownSettingsAndAppliesKnownOnes) {
  Result<std::unique_ptr<Database>> bad = Database::Open(":memory:", {{"no_such_setting", "1"}});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), HasSubstr("no_such_setting"));

  Result<std::unique_ptr<Database>> db = Database::Open("", {{"threads", "1"}});
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  Result<Connection> con = (*db)->Connect();
  ASSERT_TRUE(con.ok());
  Result<QueryResult> r = con->Query("SELECT current_setting('threads')");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->GetString(0, 0), "1");
}

TEST(Database, PersistsToAFileAndServesConnectionsOnSeveralThreads) {
  TempDir dir;
  const std::string path = dir.path() + "/lake.duckdb";
  {
    Result<std::unique_ptr<Database>> db = Database::Open(path);
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    Result<Connection> con = (*db)->Connect();
    ASSERT_TRUE(con.ok());
    ASSERT_TRUE(con->Query("CREATE TABLE trades AS SELECT range AS id FROM range(100)").ok());
  }
  Result<std::unique_ptr<Database>> db = Database::Open(path, {{"access_mode", "READ_ONLY"}});
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  std::vector<std::string> sums(4);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < sums.size(); ++i) {
    threads.emplace_back([&, i] {
      Result<Connection> con = (*db)->Connect();
      if (!con.ok()) return;
      Result<QueryResult> r = con->Query("SELECT sum(id) FROM trades");
      if (r.ok()) sums[i] = r->GetStringOr(0, 0, "NULL");
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& s : sums) EXPECT_EQ(s, "4950");
}

TEST(Database, ReportsAnUnopenableFileAsIoError) {
  Result<std::unique_ptr<Database>> db = Database::Open("/nonexistent/dir/lake.duckdb");
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.status().code(), StatusCode::kIOError) << db.status().ToString();
  EXPECT_THAT(db.status().message(), HasSubstr("/nonexistent/dir/lake.duckdb"));
}

}  // namespace
}  // namespace tradelake
