#include "grant_detail.hpp"

#include <cstring>

#include "guard.hpp"

namespace allot::pg {
namespace {

// Only PostgreSQL calls below: each runs inside one pg_call, with no C++
// object created between its PG_TRY and the calls it guards.

void push_string(JsonbParseState** state, JsonbIteratorToken token, const char* text,
                 std::size_t len) {
  JsonbValue v;
  v.type = jbvString;
  v.val.string.val = const_cast<char*>(text);
  v.val.string.len = static_cast<int>(len);
  pushJsonbValue(state, token, &v);
}

void push_number(JsonbParseState** state, JsonbIteratorToken token, std::int64_t n) {
  JsonbValue v;
  v.type = jbvNumeric;
  v.val.numeric = int64_to_numeric(n);
  pushJsonbValue(state, token, &v);
}

void push_key(JsonbParseState** state, const char* key) {
  push_string(state, WJB_KEY, key, std::strlen(key));
}

void push_number_field(JsonbParseState** state, const char* key, std::int64_t n) {
  push_key(state, key);
  push_number(state, WJB_VALUE, n);
}

}  // namespace

Datum grant_detail_jsonb(const std::vector<CountedCheck>& counted,
                         const std::vector<ShadowDenial>& shadow) {
  return pg_call([&] {
    JsonbParseState* state = nullptr;
    pushJsonbValue(&state, WJB_BEGIN_OBJECT, nullptr);
    push_key(&state, "counted");
    pushJsonbValue(&state, WJB_BEGIN_ARRAY, nullptr);
    for (const CountedCheck& c : counted) {
      pushJsonbValue(&state, WJB_BEGIN_ARRAY, nullptr);
      push_string(&state, WJB_ELEM, c.key.data(), c.key.size());
      push_number(&state, WJB_ELEM, c.limit_id);
      push_string(&state, WJB_ELEM, c.window_start.data(), c.window_start.size());
      if (c.on_meter) push_string(&state, WJB_ELEM, "f", 1);
      pushJsonbValue(&state, WJB_END_ARRAY, nullptr);
    }
    pushJsonbValue(&state, WJB_END_ARRAY, nullptr);
    if (!shadow.empty()) {
      push_key(&state, "shadow_denied");
      pushJsonbValue(&state, WJB_BEGIN_ARRAY, nullptr);
      for (const ShadowDenial& s : shadow) {
        pushJsonbValue(&state, WJB_BEGIN_OBJECT, nullptr);
        push_key(&state, "key");
        push_string(&state, WJB_VALUE, s.key.data(), s.key.size());
        push_number_field(&state, "limit_id", s.limit_id);
        push_number_field(&state, "used", s.used);
        push_number_field(&state, "max", s.max);
        pushJsonbValue(&state, WJB_END_OBJECT, nullptr);
      }
      pushJsonbValue(&state, WJB_END_ARRAY, nullptr);
    }
    JsonbValue* done = pushJsonbValue(&state, WJB_END_OBJECT, nullptr);
    return JsonbPGetDatum(JsonbValueToJsonb(done));
  });
}

}  // namespace allot::pg
