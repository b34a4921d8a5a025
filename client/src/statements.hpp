// The prepared statements of a Client: name and SQL of each.
//
// Intervals come back as whole milliseconds computed by the server
// (ceil(extract(epoch ...) * 1000)), rounded up so that a client waiting
// retry_after is never early, and never negative.
#pragma once

namespace allot::detail {

#define ALLOT_MS(col)   \
  "CASE WHEN " col      \
  " IS NULL THEN NULL " \
  "ELSE greatest(0, ceil(extract(epoch FROM " col ") * 1000))::bigint END"

struct Statement {
  const char* name;
  const char* sql;
};

inline constexpr Statement kRedeem{
    "allot_client_redeem",
    "SELECT granted, replayed, path, denied_keys, " ALLOT_MS("retry_after") " AS retry_after_ms "
    "FROM allot.redeem($1::uuid, $2::text[], $3::bigint)"};

inline constexpr Statement kRedeemMany{
    "allot_client_redeem_many",
    "SELECT idx, granted, replayed, path, denied_keys, " ALLOT_MS("retry_after") " AS retry_after_ms, "
    "error FROM allot.redeem_many($1::jsonb) ORDER BY idx"};

inline constexpr Statement kReverse{"allot_client_reverse",
                                    "SELECT allot.reverse($1::uuid, $2::text)"};

inline constexpr Statement kCanRedeem{
    "allot_client_can_redeem",
    "SELECT key, limit_id, allowed, remaining, " ALLOT_MS("retry_after") " AS retry_after_ms "
    "FROM allot.can_redeem($1::text[], $2::bigint)"};

// $5 NULL: the default valid range '(,)'.
inline constexpr Statement kSetLimit{
    "allot_client_set_limit",
    "SELECT allot.set_limit($1::text, $2::bigint, $3::interval, $4::boolean, "
    "coalesce($5::tstzrange, '(,)'::tstzrange), $6::text)"};

inline constexpr Statement kDropLimit{
    "allot_client_drop_limit", "SELECT allot.drop_limit($1::text, $2::interval, $3::boolean)"};

inline constexpr Statement kAll[] = {kRedeem,    kRedeemMany, kReverse,
                                     kCanRedeem, kSetLimit,   kDropLimit};

#undef ALLOT_MS

}  // namespace allot::detail
