// IamMatrix: the role policies decided three ways, cell by cell.
//
// Every role of DESIGN.md ("Roles") x every lake area x {Get, Put, List,
// Delete} is decided
//   1. by moto 5.2.1 with signature checks on (INITIAL_NO_AUTH_ACTION_COUNT,
//      MotoServer::SetSignatureChecks), through an S3Store signed with the
//      access key of one moto IAM user per role, whose inline policy is the
//      role's document exactly as tradelake enforces it
//      (BuiltinPolicyDocument + SubstitutePolicyVariables);
//   2. by tradelake's own evaluator, through a PolicyEnforcingStore holding
//      RolePolicyFor(role) over a memory store seeded the same way;
//   3. by the table written out below from DESIGN.md ("Roles") and
//      policies/README.md.
// All three must agree on every cell.
//
// What moto 5.2.1 cannot check (s3_store.h, "Known differences of moto"):
//   - List. An area's list request has a prefix holding '/' ("lake/bronze/"),
//     and with signature checks on moto rebuilds the canonical request from
//     werkzeug's re-quoted URL: it answers SignatureDoesNotMatch for every
//     role, even for a user allowed s3:* on * (botocore's requests fail the
//     same way). Where the signature does verify (a prefix without '/', or no
//     prefix), moto still does not evaluate s3:prefix: its S3 authorization
//     passes no condition values to the policy check, and its condition code
//     implements StringEquals only, so every Condition block is ignored.
//     So the List column is compared between tradelake and the table only;
//     moto's answer is recorded and printed ("-" = SignatureDoesNotMatch,
//     moto n/a), never counted as agreement.
//   - Get, Put and Delete are compared three ways, Deny statements included:
//     a user whose document adds "Allow s3:*" on the whole lake to etl's shows
//     that BronzeIsImmutable is what denies Bronze writes on moto too.
//
// Object keys avoid '=', '+', '%' and the other characters moto verifies
// differently from S3, e.g. "bronze/seed-ingest.dat".
//
// A wrong secret key on the signed moto is covered by
// S3StoreSignedOnMoto.WrongSecretKeyIsPermissionDeniedNamingTheSecret
// (s3_store_test.cc).
#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "store/lake.h"
#include "support/moto_server.h"
#include "store/object_store.h"
#include "store/policy.h"
#include "store/policy_store.h"
#include "store/s3_store.h"

namespace tradelake {
namespace {

namespace fs = std::filesystem;

constexpr char kBucket[] = "iam-matrix-lake";
constexpr char kPrefix[] = "lake";
const LakeLocation kLake{kBucket, kPrefix};

enum class Op { kGet, kPut, kList, kDelete };
constexpr std::array<Op, 4> kOps = {Op::kGet, Op::kPut, Op::kList, Op::kDelete};

std::string_view OpName(Op op) {
  switch (op) {
    case Op::kGet: return "Get";
    case Op::kPut: return "Put";
    case Op::kList: return "List";
    case Op::kDelete: return "Delete";
  }
  return "?";
}

// The lake's areas, as ObjectStore prefixes under s3://<bucket>/lake/.
constexpr std::array<std::string_view, 10> kAreas = {
    "bronze/",     "silver/",     "gold/",     "audit/",     "_state/ingest/", "_state/ingest/landed/",
    "_state/ingest/products/",    "_state/etl/", "_catalog/", "_artifacts/"};

constexpr std::array<std::string_view, 4> kRoles = {"ingest", "etl", "analyst", "deployer"};

// ---- the expected table ------------------------------------------------------------
//
// One row per role and area; the four letters are Get, Put (overwrite),
// List (the area's prefix) and Delete: A = allowed, D = denied.
struct ExpectedRow {
  std::string_view role;
  std::string_view area;
  std::string_view gpld;
};

// DESIGN.md, "Roles", with policies/README.md for the detail:
//   ingest   writes Bronze and its own checkpoints (_state/ingest), may re-read
//            both (it re-reads an object it finds already written); nothing else.
//   etl      reads Bronze; writes Silver, Gold, audit, the catalog and its own
//            bookmarks (_state/etl). Reads and lists ingest's landed-object
//            log and product markers (_state/ingest/landed, .../products),
//            never writes them, and nothing else of _state/ingest.
//   analyst  reads Silver, Gold and audit, and the catalog (to know what is committed).
//   deployer no lake data; may upload and read build artifacts (_artifacts/),
//            not list them.
//   Nobody deletes Bronze; nobody deletes what it may not write.
constexpr ExpectedRow kDesignTable[] = {
    // role, area, then the letters of Get, Put, List, Delete
    {"ingest", "bronze/", "AAAD"},
    {"ingest", "silver/", "DDDD"},
    {"ingest", "gold/", "DDDD"},
    {"ingest", "audit/", "DDDD"},
    {"ingest", "_state/ingest/", "AAAD"},
    {"ingest", "_state/ingest/landed/", "AAAD"},
    {"ingest", "_state/ingest/products/", "AAAD"},
    {"ingest", "_state/etl/", "DDDD"},
    {"ingest", "_catalog/", "DDDD"},
    {"ingest", "_artifacts/", "DDDD"},

    {"etl", "bronze/", "ADAD"},
    {"etl", "silver/", "AAAA"},
    {"etl", "gold/", "AAAA"},
    {"etl", "audit/", "AAAA"},
    {"etl", "_state/ingest/", "DDDD"},
    {"etl", "_state/ingest/landed/", "ADAD"},
    {"etl", "_state/ingest/products/", "ADAD"},
    {"etl", "_state/etl/", "AAAA"},
    {"etl", "_catalog/", "AAAA"},
    {"etl", "_artifacts/", "DDDD"},

    {"analyst", "bronze/", "DDDD"},
    {"analyst", "silver/", "ADAD"},
    {"analyst", "gold/", "ADAD"},
    {"analyst", "audit/", "ADAD"},
    {"analyst", "_state/ingest/", "DDDD"},
    {"analyst", "_state/ingest/landed/", "DDDD"},
    {"analyst", "_state/ingest/products/", "DDDD"},
    {"analyst", "_state/etl/", "DDDD"},
    {"analyst", "_catalog/", "ADAD"},
    {"analyst", "_artifacts/", "DDDD"},

    {"deployer", "bronze/", "DDDD"},
    {"deployer", "silver/", "DDDD"},
    {"deployer", "gold/", "DDDD"},
    {"deployer", "audit/", "DDDD"},
    {"deployer", "_state/ingest/", "DDDD"},
    {"deployer", "_state/ingest/landed/", "DDDD"},
    {"deployer", "_state/ingest/products/", "DDDD"},
    {"deployer", "_state/etl/", "DDDD"},
    {"deployer", "_catalog/", "DDDD"},
    {"deployer", "_artifacts/", "AADD"},
};

// etl's document with an extra "Allow s3:*" on the whole lake (a broader
// policy attached to the same role): everything is allowed on objects except
// what BronzeIsImmutable denies; listing is unchanged (the extra statement
// names objects, not the bucket).
constexpr ExpectedRow kBroadenedEtlTable[] = {
    {"etl-broadened", "bronze/", "ADAD"},
    {"etl-broadened", "silver/", "AAAA"},
    {"etl-broadened", "gold/", "AAAA"},
    {"etl-broadened", "audit/", "AAAA"},
    {"etl-broadened", "_state/ingest/", "AADA"},
    {"etl-broadened", "_state/ingest/landed/", "AAAA"},
    {"etl-broadened", "_state/ingest/products/", "AAAA"},
    {"etl-broadened", "_state/etl/", "AAAA"},
    {"etl-broadened", "_catalog/", "AAAA"},
    {"etl-broadened", "_artifacts/", "AADA"},
};

// ---- outcomes ------------------------------------------------------------------------

enum class Outcome { kAllowed, kDenied, kSignatureMismatch, kError };

struct Observed {
  Outcome outcome = Outcome::kError;
  std::string detail;  // the status message, for failure messages
};

// OK -> allowed; PermissionDenied with AccessDenied (S3's code, or the
// "AccessDenied: role ..." of PolicyEnforcingStore) -> denied;
// PermissionDenied with SignatureDoesNotMatch -> moto could not verify the
// request; anything else is an error.
Observed Classify(const Status& s) {
  if (s.ok()) return {Outcome::kAllowed, ""};
  if (s.code() == StatusCode::kPermissionDenied) {
    if (s.message().find("SignatureDoesNotMatch") != std::string::npos)
      return {Outcome::kSignatureMismatch, s.message()};
    if (s.message().find("AccessDenied") != std::string::npos)
      return {Outcome::kDenied, s.message()};
  }
  return {Outcome::kError, s.ToString()};
}

Outcome FromLetter(char c) { return c == 'A' ? Outcome::kAllowed : Outcome::kDenied; }

Outcome FromDecision(Decision d) {
  return d == Decision::kAllow ? Outcome::kAllowed : Outcome::kDenied;
}

std::string_view Letter(Outcome o) {
  switch (o) {
    case Outcome::kAllowed: return "A";
    case Outcome::kDenied: return "D";
    case Outcome::kSignatureMismatch: return "-";
    case Outcome::kError: return "E";
  }
  return "?";
}

// ---- the users -------------------------------------------------------------------------

struct MatrixUser {
  std::string name;      // moto IAM user name; also names its seed objects
  std::string role;      // the role whose design row it is compared with
  std::string document;  // the exact policy text attached in moto
  RolePolicy policy;     // what tradelake enforces for it
  sigv4::Credentials creds;
};

std::string SeedKey(std::string_view area, std::string_view user) {
  return std::string(area) + "seed-" + std::string(user) + ".dat";
}
std::string SeedData(std::string_view key) { return "seed of " + std::string(key); }

// `text` with its only occurrence of `from` replaced; InvalidArgument when
// `from` does not occur exactly once (the policy text changed: fix the test).
Result<std::string> ReplaceOnce(std::string text, std::string_view from, std::string_view to) {
  const size_t at = text.find(from);
  if (at == std::string::npos || text.find(from, at + 1) != std::string::npos) {
    return InvalidArgument("expected exactly one \"" + std::string(from) + "\" in:\n" + text);
  }
  text.replace(at, from.size(), to);
  return text;
}

// ---- one matrix ------------------------------------------------------------------------

struct Cell {
  std::string area;
  Op op = Op::kGet;
  Outcome expected = Outcome::kDenied;
  Observed tradelake;
  Observed moto;
  std::string Name() const { return area + " " + std::string(OpName(op)); }
};

struct Matrix {
  std::string user;
  std::string role;
  std::vector<Cell> cells;
};

// Runs `op` on the seed object of `user` in `area`. A Get that is allowed
// must return the seed.
Status RunOp(ObjectStore& store, Op op, std::string_view area, std::string_view user) {
  const std::string key = SeedKey(area, user);
  switch (op) {
    case Op::kGet: {
      auto got = store.Get(key);
      if (!got.ok()) return got.status();
      if (*got != SeedData(key)) return Internal("Get " + key + " returned \"" + *got + "\"");
      return Status::OK();
    }
    case Op::kPut:
      return store.Put(key, "overwritten by " + std::string(user), WriteMode::kOverwrite);
    case Op::kList:
      return store.List(area).status();
    case Op::kDelete:
      return store.Delete(key);
  }
  return Internal("unknown op");
}

// What must be true of one cell, as failure texts (empty: the cell agrees).
// The List column's moto answer is recorded, not compared (see the top).
std::vector<std::string> CellProblems(const std::string& who, const Cell& c) {
  std::vector<std::string> out;
  const std::string cell = who + " " + c.Name() + ": ";
  if (c.tradelake.outcome == Outcome::kError) {
    out.push_back(cell + "tradelake error: " + c.tradelake.detail);
  } else if (c.tradelake.outcome != c.expected) {
    out.push_back(cell + "tradelake " + std::string(Letter(c.tradelake.outcome)) +
                  ", DESIGN.md table " + std::string(Letter(c.expected)) + " (" +
                  c.tradelake.detail + ")");
  }
  if (c.op == Op::kList) {
    if (c.moto.outcome == Outcome::kError)
      out.push_back(cell + "moto error on List: " + c.moto.detail);
    return out;
  }
  if (c.moto.outcome == Outcome::kError || c.moto.outcome == Outcome::kSignatureMismatch) {
    out.push_back(cell + "moto did not decide: " + c.moto.detail);
  } else {
    if (c.moto.outcome != c.tradelake.outcome) {
      out.push_back(cell + "moto " + std::string(Letter(c.moto.outcome)) + " but tradelake " +
                    std::string(Letter(c.tradelake.outcome)) + " (moto: " + c.moto.detail +
                    "; tradelake: " + c.tradelake.detail + ")");
    }
    if (c.moto.outcome != c.expected) {
      out.push_back(cell + "moto " + std::string(Letter(c.moto.outcome)) + ", DESIGN.md table " +
                    std::string(Letter(c.expected)) + " (" + c.moto.detail + ")");
    }
  }
  return out;
}

std::vector<std::string> Problems(const Matrix& m) {
  std::vector<std::string> out;
  for (const Cell& c : m.cells) {
    for (auto& p : CellProblems(m.user, c)) out.push_back(std::move(p));
  }
  return out;
}

// The cells where tradelake or moto (object operations only) is off the
// table; for the tests of loosened documents.
std::set<std::string> CellsOffTheTable(const Matrix& m) {
  std::set<std::string> out;
  for (const Cell& c : m.cells) {
    const bool moto_off = c.op != Op::kList && c.moto.outcome != c.expected;
    if (c.tradelake.outcome != c.expected || moto_off) out.insert(c.Name());
  }
  return out;
}

// Object cells where moto and tradelake disagree, or either did not decide.
std::vector<std::string> MotoVersusTradelake(const Matrix& m) {
  std::vector<std::string> out;
  for (const Cell& c : m.cells) {
    if (c.op == Op::kList) continue;
    const bool decided = (c.moto.outcome == Outcome::kAllowed || c.moto.outcome == Outcome::kDenied) &&
                         (c.tradelake.outcome == Outcome::kAllowed ||
                          c.tradelake.outcome == Outcome::kDenied);
    if (!decided || c.moto.outcome != c.tradelake.outcome) {
      out.push_back(m.user + " " + c.Name() + ": moto " + std::string(Letter(c.moto.outcome)) +
                    " (" + c.moto.detail + "), tradelake " +
                    std::string(Letter(c.tradelake.outcome)) + " (" + c.tradelake.detail + ")");
    }
  }
  return out;
}

std::string Pad(std::string s, size_t width) {
  if (s.size() < width) s.append(width - s.size(), ' ');
  return s;
}

// The matrices as a table: each cell is design/tradelake/moto.
std::string Render(const std::vector<Matrix>& matrices) {
  std::ostringstream out;
  out << "IAM matrix on s3://" << kBucket << "/" << kPrefix
      << "/  (cell = DESIGN.md table / tradelake evaluator / moto; A allowed, D denied)\n"
      << "  List on moto: '-' = moto: n/a (SignatureDoesNotMatch, moto bug: a List prefix holding "
         "'/' fails moto 5.2.1's signature check; see s3_store.h)\n";
  out << Pad("user", 18) << Pad("area", 16);
  for (Op op : kOps) out << Pad(std::string(OpName(op)), 9);
  out << "\n";
  for (const Matrix& m : matrices) {
    for (std::string_view area : kAreas) {
      out << Pad(m.user, 18) << Pad(std::string(area), 16);
      for (Op op : kOps) {
        for (const Cell& c : m.cells) {
          if (c.area != area || c.op != op) continue;
          std::string text = std::string(Letter(c.expected)) + "/" +
                             std::string(Letter(c.tradelake.outcome)) + "/" +
                             std::string(Letter(c.moto.outcome));
          if (!CellProblems(m.user, c).empty()) text += " !";
          out << Pad(text, 9);
        }
      }
      out << "\n";
    }
  }
  return out.str();
}

// ---- the fixture: a private moto with signature checks on ---------------------------------

class IamMatrix : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const Status s = SetUpServer();
    if (!s.ok()) setup_error_ = s;
  }
  static void TearDownTestSuite() {
    users_.clear();
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override {
    if (server_ == nullptr || !setup_error_.ok()) {
      const std::string why = setup_error_.ToString() + (server_ ? "\n" + server_->LogTail() : "");
      if (setup_error_.code() == StatusCode::kNotFound && MotoMayBeMissing()) GTEST_SKIP() << why;
      FAIL() << "moto with signature checks could not be set up: " << why;
    }
    // The memory lake tradelake's evaluator guards, seeded like moto.
    for (const auto& [name, user] : users_) {
      for (std::string_view area : kAreas) {
        const std::string key = SeedKey(area, name);
        ASSERT_TRUE(memory_->Put(key, SeedData(key), WriteMode::kOverwrite).ok());
      }
    }
  }

  // The documents of the variants, derived from a role's exact text.
  static Result<std::string> RoleDocument(std::string_view role) {
    const std::string_view doc = BuiltinPolicyDocument(role);
    if (doc.empty()) return NotFound("no built-in policy document for role " + std::string(role));
    return SubstitutePolicyVariables(doc, LakePolicyVariables(kLake));
  }

  static Status AddUser(std::string name, std::string role, std::string document,
                        const Result<RolePolicy>& policy) {
    if (!policy.ok()) return policy.status();
    ASSIGN_OR_RETURN(sigv4::Credentials creds, server_->CreateIamUser(name, document));
    MatrixUser user{name, std::move(role), std::move(document), *policy, std::move(creds)};
    users_.emplace(std::move(name), std::move(user));
    return Status::OK();
  }

  static Result<RolePolicy> VariantPolicy(std::string name, const std::string& document) {
    ASSIGN_OR_RETURN(Policy policy, ParsePolicy(document));
    return RolePolicy{name, "variant " + name + " (test document)", std::move(policy)};
  }

  static Status SetUpServer() {
    ASSIGN_OR_RETURN(std::unique_ptr<MotoServer> started, MotoServer::Start());
    server_ = started.release();
    RETURN_IF_ERROR(CreateBucket(server_->ClientConfig(), kBucket));

    // One user per role, holding exactly the document tradelake enforces.
    for (std::string_view role : kRoles) {
      ASSIGN_OR_RETURN(std::string document, RoleDocument(role));
      RETURN_IF_ERROR(AddUser(std::string(role), std::string(role), document,
                              RolePolicyFor(role, kLake, "")));
    }

    // Variants: copies of the documents, loosened or broadened in the test
    // only (policies/*.json stay as they are).
    ASSIGN_OR_RETURN(std::string etl, RoleDocument("etl"));
    ASSIGN_OR_RETURN(std::string analyst, RoleDocument("analyst"));
    // analyst may also overwrite what it reads.
    ASSIGN_OR_RETURN(std::string analyst_loosened,
                     ReplaceOnce(analyst, R"("Action": "s3:GetObject")",
                                 R"("Action": ["s3:GetObject", "s3:PutObject"])"));
    // etl with BronzeIsImmutable turned from Deny into Allow.
    ASSIGN_OR_RETURN(std::string etl_deny_flipped,
                     ReplaceOnce(etl, R"("Effect": "Deny")", R"("Effect": "Allow")"));
    // etl plus a broader statement allowing every S3 action on the lake.
    ASSIGN_OR_RETURN(
        std::string etl_broadened,
        ReplaceOnce(etl, R"("Statement": [)",
                    std::string(R"("Statement": [
    {"Sid": "BroadLakeAccess", "Effect": "Allow", "Action": "s3:*",
     "Resource": "arn:aws:s3:::)") +
                        kBucket + "/" + kPrefix + R"(/*"},)"));
    RETURN_IF_ERROR(AddUser("analyst-loosened", "analyst", analyst_loosened,
                            VariantPolicy("analyst-loosened", analyst_loosened)));
    RETURN_IF_ERROR(AddUser("etl-deny-flipped", "etl", etl_deny_flipped,
                            VariantPolicy("etl-deny-flipped", etl_deny_flipped)));
    RETURN_IF_ERROR(AddUser("etl-broadened", "etl-broadened", etl_broadened,
                            VariantPolicy("etl-broadened", etl_broadened)));
    // A user allowed everything: restores seeds, and shows which failures are
    // moto's signature check rather than a policy.
    const std::string admin_doc =
        R"({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]})";
    ASSIGN_OR_RETURN(admin_, server_->CreateIamUser("admin", admin_doc));

    // Seed one object per area and user while checks are still off.
    ASSIGN_OR_RETURN(auto seeder, S3Store::Open(StoreOptions(server_->ClientConfig().credentials)));
    for (const auto& [name, user] : users_) {
      for (std::string_view area : kAreas) {
        const std::string key = SeedKey(area, name);
        RETURN_IF_ERROR(seeder->Put(key, SeedData(key), WriteMode::kOverwrite));
      }
    }
    return server_->SetSignatureChecks(true);
  }

  static S3StoreOptions StoreOptions(const sigv4::Credentials& creds, std::string prefix = kPrefix) {
    S3StoreOptions options;
    options.bucket = kBucket;
    options.prefix = std::move(prefix);
    options.aws = server_->ClientConfig();
    options.aws.credentials = creds;
    options.aws.credentials_source = "moto IAM user";
    options.retry.max_attempts = 3;
    options.retry.initial_backoff = std::chrono::milliseconds(20);
    return options;
  }

  static std::unique_ptr<S3Store> MotoStoreAs(const sigv4::Credentials& creds,
                                              std::string prefix = kPrefix) {
    auto store = S3Store::Open(StoreOptions(creds, std::move(prefix)));
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return store.ok() ? std::move(store).value() : nullptr;
  }

  std::unique_ptr<PolicyEnforcingStore> TradelakeStoreAs(const MatrixUser& user) {
    auto store = PolicyEnforcingStore::Wrap(memory_.get(), user.policy, kLake);
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return store.ok() ? std::move(store).value() : nullptr;
  }

  // Every area x operation for `user_name`, against `table`'s rows for its
  // role.
  template <size_t N>
  Matrix RunMatrix(const std::string& user_name, const ExpectedRow (&table)[N]) {
    Matrix m;
    const MatrixUser& user = users_.at(user_name);
    m.user = user.name;
    m.role = user.role;
    auto moto = MotoStoreAs(user.creds);
    auto tradelake = TradelakeStoreAs(user);
    auto admin = MotoStoreAs(admin_);
    if (!moto || !tradelake || !admin) return m;
    for (std::string_view area : kAreas) {
      const ExpectedRow* row = nullptr;
      for (const ExpectedRow& r : table) {
        if (r.role == user.role && r.area == area) row = &r;
      }
      if (row == nullptr) {
        ADD_FAILURE() << "no expected row for " << user.role << " " << area;
        continue;
      }
      // Put back the seed an earlier run may have overwritten or deleted.
      const std::string key = SeedKey(area, user.name);
      const Status restored = admin->Put(key, SeedData(key), WriteMode::kOverwrite);
      EXPECT_TRUE(restored.ok()) << restored.ToString();
      EXPECT_TRUE(memory_->Put(key, SeedData(key), WriteMode::kOverwrite).ok());
      for (size_t i = 0; i < kOps.size(); ++i) {
        Cell c;
        c.area = std::string(area);
        c.op = kOps[i];
        c.expected = FromLetter(row->gpld[i]);
        c.moto = Classify(RunOp(*moto, c.op, area, user.name));
        c.tradelake = Classify(RunOp(*tradelake, c.op, area, user.name));
        m.cells.push_back(std::move(c));
      }
    }
    return m;
  }

  static inline MotoServer* server_ = nullptr;  // owned; deleted in TearDownTestSuite
  static inline Status setup_error_;
  static inline std::map<std::string, MatrixUser> users_;
  static inline sigv4::Credentials admin_;
  std::unique_ptr<ObjectStore> memory_ = NewMemoryStore();
};

const std::string kPoliciesDir =
    (fs::path(__FILE__).parent_path().parent_path().parent_path() / "policies").string();

std::string ReadFileOrEmpty(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST_F(IamMatrix, EveryRoleAreaAndOperationAgreesOnMotoTradelakeAndTheDesignTable) {
  // The documents attached in moto are the repo's: the built-in text is
  // policies/<role>.json.
  for (std::string_view role : kRoles) {
    EXPECT_EQ(BuiltinPolicyDocument(role),
              ReadFileOrEmpty(kPoliciesDir + "/" + std::string(role) + ".json"))
        << "the built-in document of " << role << " is not policies/" << role
        << ".json: re-run cmake";
  }

  std::vector<Matrix> matrices;
  for (std::string_view role : kRoles) matrices.push_back(RunMatrix(std::string(role), kDesignTable));
  std::cout << Render(matrices);

  size_t cells = 0;
  size_t moto_allowed = 0;
  size_t moto_denied = 0;
  for (const Matrix& m : matrices) {
    for (const std::string& p : Problems(m)) ADD_FAILURE() << p;
    for (const Cell& c : m.cells) {
      ++cells;
      if (c.op == Op::kList) continue;
      if (c.moto.outcome == Outcome::kAllowed) ++moto_allowed;
      if (c.moto.outcome == Outcome::kDenied) ++moto_denied;
      // Nobody deletes Bronze, on moto too.
      if (c.area == "bronze/" && c.op == Op::kDelete) {
        EXPECT_EQ(c.moto.outcome, Outcome::kDenied) << m.user << ": " << c.moto.detail;
        EXPECT_EQ(c.tradelake.outcome, Outcome::kDenied) << m.user << ": " << c.tradelake.detail;
      }
    }
  }
  EXPECT_EQ(cells, kRoles.size() * kAreas.size() * kOps.size());
  // Both kinds of answer were given by moto, so the users and signatures work.
  EXPECT_GT(moto_allowed, 0u);
  EXPECT_GT(moto_denied, 0u);
  std::cout << "moto decided " << moto_allowed + moto_denied << " object cells (" << moto_allowed
            << " allowed, " << moto_denied << " denied); List cells are tradelake vs table only\n";
}

// What moto does with List requests, recorded. The area prefixes fail its
// signature check whatever the policy (the admin user may do anything), and
// where the signature verifies moto ignores the s3:prefix conditions; so no
// List cell is compared with moto. Listing the lake root or the bucket must
// be denied for every role by tradelake (policies/README.md).
TEST_F(IamMatrix, ListingOutsideTheAreasIsDeniedAndMotoCannotCheckAnyListCell) {
  // An area's prefix holds '/': moto cannot verify the signature of any user.
  auto admin_lake = MotoStoreAs(admin_);
  auto admin_bucket = MotoStoreAs(admin_, "");
  ASSERT_TRUE(admin_lake && admin_bucket);
  const Observed admin_area = Classify(admin_lake->List("bronze/").status());
  const Observed admin_root = Classify(admin_bucket->List(kPrefix).status());
  std::cout << "admin (Allow s3:* on *) List lake/bronze/ on moto: " << Letter(admin_area.outcome)
            << " " << admin_area.detail << "\n"
            << "admin (Allow s3:* on *) List lake (no '/') on moto: " << Letter(admin_root.outcome)
            << "\n";
  EXPECT_NE(admin_area.outcome, Outcome::kError) << admin_area.detail;
  EXPECT_EQ(admin_root.outcome, Outcome::kAllowed) << admin_root.detail;

  struct ListCase {
    std::string label;
    std::string store_prefix;  // the S3Store's prefix on moto
    std::string list_prefix;   // what List() is given
    std::optional<std::string> s3_prefix;  // the request's s3:prefix; nullopt: none
  };
  const std::vector<ListCase> cases = {
      {"lake root \"lake/\"", kPrefix, "", std::string(kPrefix) + "/"},
      {"lake root \"lake\" (no '/')", "", kPrefix, std::string(kPrefix)},
      {"whole bucket (no prefix)", "", "", std::nullopt},
  };
  std::ostringstream out;
  out << "List outside the areas (expected: denied for every role)\n"
      << Pad("role", 10) << Pad("list", 30) << Pad("table", 7) << Pad("tradelake", 11)
      << "moto\n";
  for (std::string_view role : kRoles) {
    const MatrixUser& user = users_.at(std::string(role));
    // The same document with every Condition dropped: what moto evaluates.
    Policy unconditional = user.policy.policy;
    for (PolicyStatement& st : unconditional.statements) st.conditions.clear();
    for (const ListCase& lc : cases) {
      Request request{"s3:ListBucket", std::string("arn:aws:s3:::") + kBucket, {}};
      if (lc.s3_prefix) request.context["s3:prefix"] = *lc.s3_prefix;
      // tradelake: through the store where it can express the request.
      Observed tradelake;
      if (lc.store_prefix == kPrefix) {
        auto store = TradelakeStoreAs(user);
        ASSERT_TRUE(store);
        EXPECT_EQ(store->ListRequest(lc.list_prefix).context, request.context);
        tradelake = Classify(store->List(lc.list_prefix).status());
      } else {
        const Evaluation e = Explain(user.policy.policy, request);
        tradelake = {FromDecision(e.decision), std::string(DecisionName(e.decision))};
      }
      EXPECT_EQ(tradelake.outcome, Outcome::kDenied)
          << role << " " << lc.label << ": " << tradelake.detail;

      auto moto_store = MotoStoreAs(user.creds, lc.store_prefix);
      ASSERT_TRUE(moto_store);
      const Observed moto = Classify(moto_store->List(lc.list_prefix).status());
      EXPECT_NE(moto.outcome, Outcome::kError) << role << " " << lc.label << ": " << moto.detail;
      std::string moto_text;
      if (moto.outcome == Outcome::kSignatureMismatch) {
        moto_text = "n/a (SignatureDoesNotMatch, moto bug)";
      } else {
        const Outcome ignoring =
            FromDecision(Evaluate(unconditional, request));
        moto_text = std::string(Letter(moto.outcome)) +
                    (moto.outcome == Outcome::kDenied ? "" : " (!= table)") +
                    "; tradelake with Conditions dropped: " + std::string(Letter(ignoring)) +
                    (ignoring == moto.outcome ? " (same: moto ignores s3:prefix)" : "");
      }
      out << Pad(std::string(role), 10) << Pad(lc.label, 30) << Pad("D", 7)
          << Pad(std::string(Letter(tradelake.outcome)), 11) << moto_text << "\n";
    }
  }
  std::cout << out.str();
}

// BronzeIsImmutable is an explicit Deny, and both moto and tradelake let it
// win over a broader Allow attached to the same user.
TEST_F(IamMatrix, BronzeDenyBeatsABroaderAllowOnMotoAndTradelake) {
  const Matrix m = RunMatrix("etl-broadened", kBroadenedEtlTable);
  std::cout << Render({m});
  for (const std::string& p : Problems(m)) ADD_FAILURE() << p;
  // The Deny is what decides: the broad statement allows these requests.
  auto store = TradelakeStoreAs(users_.at("etl-broadened"));
  ASSERT_TRUE(store);
  for (std::string_view action : {"s3:PutObject", "s3:DeleteObject"}) {
    const Evaluation e = Explain(store->role().policy,
                                 store->ObjectRequest(action, SeedKey("bronze/", "etl-broadened")));
    EXPECT_EQ(e.decision, Decision::kExplicitDeny) << action;
    EXPECT_EQ(e.statement, "BronzeIsImmutable") << action;
  }
}

// The matrix can fail: a loosened copy of a document flips exactly the cells
// it loosens, on moto and in tradelake alike, away from the DESIGN.md table.
TEST_F(IamMatrix, LoosenedDocumentsFlipCellsAwayFromTheDesignTable) {
  const Matrix analyst = RunMatrix("analyst-loosened", kDesignTable);
  const Matrix etl = RunMatrix("etl-deny-flipped", kDesignTable);
  std::cout << Render({analyst, etl});
  for (const std::string& p : MotoVersusTradelake(analyst)) ADD_FAILURE() << p;
  for (const std::string& p : MotoVersusTradelake(etl)) ADD_FAILURE() << p;
  EXPECT_EQ(CellsOffTheTable(analyst),
            (std::set<std::string>{"silver/ Put", "gold/ Put", "audit/ Put", "_catalog/ Put"}));
  EXPECT_EQ(CellsOffTheTable(etl), (std::set<std::string>{"bronze/ Put", "bronze/ Delete"}));
  EXPECT_FALSE(Problems(analyst).empty());
  EXPECT_FALSE(Problems(etl).empty());
}

}  // namespace
}  // namespace tradelake
