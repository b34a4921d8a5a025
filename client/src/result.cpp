#include "result.hpp"

namespace allot::detail {
namespace {

std::optional<std::chrono::milliseconds> milliseconds(const pqxx::field& f) {
  if (f.is_null()) return std::nullopt;
  return std::chrono::milliseconds{f.as<std::int64_t>()};
}

std::vector<std::string> text_array(const pqxx::field& f) {
  std::vector<std::string> out;
  if (f.is_null()) return out;
  pqxx::array_parser parser = f.as_array();
  for (auto item = parser.get_next(); item.first != pqxx::array_parser::done;
       item = parser.get_next()) {
    if (item.first == pqxx::array_parser::string_value) out.push_back(item.second);
  }
  return out;
}

void fill_decision(const pqxx::row& row, Decision& d) {
  d.granted = row["granted"].as<bool>(false);
  d.replayed = row["replayed"].as<bool>(false);
  d.path = row["path"].as<std::string>(std::string());
  d.denied_keys = text_array(row["denied_keys"]);
  d.retry_after = milliseconds(row["retry_after_ms"]);
}

}  // namespace

Decision decision_from_row(const pqxx::row& row) {
  Decision d;
  fill_decision(row, d);
  return d;
}

ItemDecision item_decision_from_row(const pqxx::row& row) {
  ItemDecision d;
  fill_decision(row, d);
  d.idx = row["idx"].as<int>();
  if (!row["error"].is_null()) d.error = row["error"].as<std::string>();
  return d;
}

KeyCheck key_check_from_row(const pqxx::row& row) {
  KeyCheck k;
  k.key = row["key"].as<std::string>();
  k.limit_id = row["limit_id"].as<std::int64_t>(0);
  k.allowed = row["allowed"].as<bool>(false);
  k.remaining = row["remaining"].as<std::int64_t>(0);
  k.retry_after = milliseconds(row["retry_after_ms"]);
  return k;
}

}  // namespace allot::detail
