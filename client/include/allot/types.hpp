// Value types of the pg_allot client: plain structs mirroring the SQL API
// (../shared/API.md). No connection, no libpqxx here.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace allot {

// A transaction GUID: the idempotency key of a redemption.
class Uuid {
 public:
  Uuid() = default;
  static Uuid random();                      // version 4, from a CSPRNG-seeded generator
  static Uuid parse(std::string_view text);  // throws allot::BadRequest when malformed
  std::string str() const;                   // canonical lowercase 8-4-4-4-12
  const std::array<std::uint8_t, 16>& bytes() const { return bytes_; }
  bool operator==(const Uuid& o) const { return bytes_ == o.bytes_; }
  bool operator!=(const Uuid& o) const { return !(*this == o); }
  bool operator<(const Uuid& o) const { return bytes_ < o.bytes_; }

 private:
  std::array<std::uint8_t, 16> bytes_{};
};

// allot.decision
struct Decision {
  bool granted = false;
  bool replayed = false;  // the txn was already granted; nothing new consumed
  std::string path;       // "fast" | "slow"
  std::vector<std::string> denied_keys;
  std::optional<std::chrono::milliseconds> retry_after;  // when waiting may help
};

// One request of redeem_many.
struct Request {
  Uuid txn;
  std::vector<std::string> keys;
  std::int64_t amount = 1;
};

// allot.item_decision: a Decision plus its position and, for a malformed or
// conflicting item, the error text (then granted is false).
struct ItemDecision : Decision {
  int idx = 0;
  std::optional<std::string> error;
};

// A row of allot.can_redeem.
struct KeyCheck {
  std::string key;
  std::int64_t limit_id = 0;
  bool allowed = false;
  std::int64_t remaining = 0;
  std::optional<std::chrono::milliseconds> retry_after;
};

// Options of set_limit beyond (scope, max, per).
struct LimitOptions {
  bool sliding = false;
  std::optional<std::string> valid;  // a tstzrange literal, e.g. "[2026-12-01,2027-01-01)"
  std::string mode = "enforce";      // "enforce" | "shadow"
};

}  // namespace allot
