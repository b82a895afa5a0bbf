#include "bronze/bronze.h"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <zstd.h>

#include <cstdio>

namespace tradelake {
namespace {

TEST(BronzeKey, RoundTripsAndRejectsStrangers) {
  const std::string key = BronzeObjectKey("BTC-USD", "2024-05-01", 100, 199);
  EXPECT_EQ(key, "bronze/source=coinbase/product=BTC-USD/date=2024-05-01/100-199.jsonl.zst");
  auto parsed = ParseBronzeObjectKey(key);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->product_id, "BTC-USD");
  EXPECT_EQ(parsed->date, "2024-05-01");
  EXPECT_EQ(parsed->first_id, 100);
  EXPECT_EQ(parsed->last_id, 199);
  for (const char* bad : {"bronze/source=coinbase/product=BTC-USD/date=2024-05-01/199-100.jsonl.zst",
                          "bronze/source=coinbase/product=BTC-USD/date=2024-05-01/x-1.jsonl.zst",
                          "bronze/source=coinbase/product=BTC-USD/date=2024-05-01/1-2.json",
                          "bronze/source=other/product=BTC-USD/date=2024-05-01/1-2.jsonl.zst",
                          "bronze/source=coinbase/product=BTC-USD/1-2.jsonl.zst",
                          // a date that is no date, a product tradelake would never name
                          "bronze/source=coinbase/product=BTC-USD/date=2024-13-01/1-2.jsonl.zst",
                          "bronze/source=coinbase/product=BTC-USD/date=2024-02-30/1-2.jsonl.zst",
                          "bronze/source=coinbase/product=BTC-USD/date=2024-5-01x/1-2.jsonl.zst",
                          "bronze/source=coinbase/product=BTC-USD/date=../../../1-2.jsonl.zst",
                          "bronze/source=coinbase/product=BTC USD'; DROP/date=2024-05-01/1-2.jsonl.zst",
                          "bronze/source=coinbase/product=../date=2024-05-01/1-2.jsonl.zst"}) {
    EXPECT_FALSE(ParseBronzeObjectKey(bad).ok()) << bad;
  }
}

TEST(BronzeObject, KeepsTheExchangeBytesExactly) {
  const std::string a = R"({"trade_id":1,"side":"buy","size":"0.001","price":"65000.01","time":"2024-05-01T00:00:44.39Z"})";
  const std::string b = R"({ "time" : "2024-05-01T00:00:45Z", "trade_id" : 2, "extra":"caf\u00e9 \"q\"" })";
  const std::string c = "{\"trade_id\":3,\n\"price\":\"1\"}";  // a raw line break
  auto data = EncodeBronzeObject({{1, a}, {2, b}, {3, c}}, 1'714'521'600'000'000, "/products/X/trades?after=4");
  ASSERT_TRUE(data.ok()) << data.status().ToString();
  auto back = DecodeBronzeObject(*data);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  ASSERT_EQ(back->size(), 3u);
  EXPECT_EQ((*back)[0].trade, a);
  EXPECT_EQ((*back)[1].trade, b);
  EXPECT_EQ((*back)[2].trade, c);
  EXPECT_EQ((*back)[2].trade_id, 3);
  EXPECT_EQ((*back)[0].ingested_at, "2024-05-01T00:00:00.000000Z");
}

TEST(BronzeObject, CorruptOrTruncatedObjectsAreDataLoss) {
  auto data = EncodeBronzeObject({{1, R"({"trade_id":1})"}}, 0, "/x");
  ASSERT_TRUE(data.ok());
  EXPECT_EQ(DecodeBronzeObject(data->substr(0, data->size() / 2)).status().code(), StatusCode::kDataLoss);
  EXPECT_EQ(DecodeBronzeObject("not zstd at all").status().code(), StatusCode::kDataLoss);
  auto no_id = EncodeBronzeObject({{1, R"({"price":"1"})"}}, 0, "/x");
  ASSERT_TRUE(no_id.ok());
  EXPECT_EQ(DecodeBronzeObject(*no_id).status().code(), StatusCode::kDataLoss);
}

// Compresses `gib` GiB of the same line, streaming (so the frame may claim
// no size), into an object of about a megabyte: a decompression bomb.
std::string Bomb(int64_t gib, bool pledge_size) {
  std::unique_ptr<ZSTD_CCtx, decltype(&ZSTD_freeCCtx)> cctx(ZSTD_createCCtx(), ZSTD_freeCCtx);
  ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_compressionLevel, 1);
  const int64_t total = gib << 30;
  if (pledge_size) ZSTD_CCtx_setPledgedSrcSize(cctx.get(), static_cast<unsigned long long>(total));
  const std::string chunk(size_t{16} << 20, 'x');
  std::string out;
  std::string buf(ZSTD_CStreamOutSize(), '\0');
  for (int64_t done = 0; done < total; done += static_cast<int64_t>(chunk.size())) {
    const bool last = done + static_cast<int64_t>(chunk.size()) >= total;
    ZSTD_inBuffer in{chunk.data(), chunk.size(), 0};
    size_t left = 0;
    do {
      ZSTD_outBuffer o{buf.data(), buf.size(), 0};
      left = ZSTD_compressStream2(cctx.get(), &o, &in, last ? ZSTD_e_end : ZSTD_e_continue);
      EXPECT_FALSE(ZSTD_isError(left));
      out.append(buf.data(), o.pos);
    } while (last ? left != 0 : in.pos < in.size);
  }
  return out;
}

int64_t PeakRssBytes() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<int64_t>(u.ru_maxrss) * 1024;
}

TEST(BronzeObject, ADecompressionBombFailsInBoundedMemoryNamingTheLimit) {
  for (bool pledge : {false, true}) {
    // 10 GiB of a claimed size is refused before decompressing; 2 GiB keep the test short.
    const std::string bomb = Bomb(pledge ? 2 : 10, pledge);
    const int64_t peak_before = PeakRssBytes();
    auto lines = ReadBronzeLines(bomb);
    const int64_t growth = PeakRssBytes() - peak_before;
    std::printf("bomb of %zu bytes (size %s): %s; peak RSS grew by %lld MiB\n", bomb.size(),
                pledge ? "claimed" : "unclaimed", lines.status().ToString().c_str(),
                static_cast<long long>(growth >> 20));
    ASSERT_FALSE(lines.ok());
    EXPECT_EQ(lines.status().code(), StatusCode::kDataLoss);
    EXPECT_NE(lines.status().message().find("inflates to more than the limit of 256 MiB"), std::string::npos)
        << lines.status().message();
    EXPECT_LT(bomb.size(), size_t{2} << 20);
    // At most the limit plus a step, never the 10 GiB.
    EXPECT_LT(growth, int64_t{300} << 20);
  }
  // A small limit applies to ordinary objects too.
  auto data = EncodeBronzeObject({{1, R"({"trade_id":1})"}}, 0, "/x");
  ASSERT_TRUE(data.ok());
  EXPECT_EQ(ReadBronzeLines(*data, 10).status().code(), StatusCode::kDataLoss);
  EXPECT_TRUE(ReadBronzeLines(*data, 1000).ok());
}

TEST(BronzeObject, TrailingBytesAfterTheFrameAreDataLoss) {
  auto data = EncodeBronzeObject({{1, R"({"trade_id":1})"}}, 0, "/x");
  ASSERT_TRUE(data.ok());
  EXPECT_EQ(ReadBronzeLines(*data + "junk").status().code(), StatusCode::kDataLoss);
}

}  // namespace
}  // namespace tradelake
