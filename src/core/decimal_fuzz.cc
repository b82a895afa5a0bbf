// libFuzzer target: Decimal parsing and arithmetic must never crash, and a
// parsed value's text must be canonical and exact.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/decimal.h"

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tradelake;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  // Two operands separated by the first ';', so arithmetic gets fuzzed too.
  const size_t split = input.find(';');
  const std::string_view first = input.substr(0, split);

  Result<Decimal> a = Decimal::Parse(first);
  if (!a.ok()) {
    Check(a.status().code() == StatusCode::kInvalidArgument);
    return 0;
  }
  const std::string text = a->ToString();
  Result<Decimal> again = Decimal::Parse(text);
  Check(again.ok());
  Check(*again == *a && again->scale() == a->scale() && again->unscaled() == a->unscaled());
  Check(again->ToString() == text);
  Check(a->digits() >= 1 && a->digits() <= Decimal::kMaxDigits);

  // Rescaling up and back is exact; down never rounds.
  for (int s : {0, a->scale() + 1, 18, 38}) {
    Result<Decimal> r = a->Rescale(s);
    if (r.ok()) {
      Check(*r == *a);
      Result<Decimal> back = r->Rescale(a->scale());
      Check(back.ok() && back->unscaled() == a->unscaled());
    }
  }

  if (split == std::string_view::npos) return 0;
  Result<Decimal> b = Decimal::Parse(input.substr(split + 1));
  if (!b.ok()) return 0;

  Result<Decimal> sum = Decimal::Add(*a, *b);
  if (sum.ok()) {
    Check(sum->digits() <= Decimal::kMaxDigits);
    // a + b - b == a, exactly.
    Result<Decimal> diff = Decimal::Add(*sum, Decimal(-b->unscaled(), b->scale()));
    Check(diff.ok() && *diff == *a);
    Check((*b > Decimal()) ? *sum > *a : (b->is_zero() ? *sum == *a : *sum < *a));
  }
  Result<Decimal> product = Decimal::Multiply(*a, *b);
  if (product.ok()) {
    Check(product->scale() == a->scale() + b->scale());
    Check(product->is_zero() == (a->is_zero() || b->is_zero()));
  }
  // Comparison is antisymmetric and consistent with equality.
  Check((*a <=> *b) == (0 <=> (*b <=> *a)));
  Check((*a == *b) == ((*a <=> *b) == 0));
  return 0;
}
