// allot::Uuid: the forms PostgreSQL accepts, canonical output, version 4.
#include <set>

#include "test_db.hpp"

using allot::Uuid;

namespace {

const char* const kAccepted[] = {
    "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",    "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11",
    "{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}",  "a0eebc999c0b4ef8bb6d6bb9bd380a11",
    "a0ee-bc99-9c0b-4ef8-bb6d-6bb9-bd38-0a11", "{a0eebc99-9c0b4ef8-bb6d6bb9-bd380a11}",
};

const char* const kRejected[] = {
    "",
    "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1",    // 31 digits
    "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a111",  // 33 digits
    "g0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",   // not hex
    "a0e-ebc99-9c0b-4ef8-bb6d-6bb9bd380a11",  // hyphen inside a group of four
    "a0eebc99--9c0b-4ef8-bb6d-6bb9bd380a11",  // two hyphens
    "-a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",  // leading hyphen
    "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11-",  // trailing hyphen
    "{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",  // unclosed brace
    "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}",  // brace never opened
    " a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",  // whitespace
};

}  // namespace

TEST(Uuid, ParseAcceptsEveryFormPostgresAcceptsAndFormatsLikePostgres) {
  allot_test::Admin admin;
  for (const char* text : kAccepted) {
    SCOPED_TRACE(text);
    const std::string server = admin.value<std::string>("SELECT $1::uuid::text", std::string(text));
    EXPECT_EQ(Uuid::parse(text).str(), server);
    EXPECT_EQ(Uuid::parse(text).str(), "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
  }
}

TEST(Uuid, ParseRejectsWhatPostgresRejectsWithBadRequest) {
  allot_test::Admin admin;
  for (const char* text : kRejected) {
    SCOPED_TRACE(std::string("\"") + text + "\"");
    EXPECT_THROW(Uuid::parse(text), allot::BadRequest);
    EXPECT_THROW(admin.value<std::string>("SELECT $1::uuid::text", std::string(text)),
                 pqxx::data_exception);
  }
  EXPECT_THROW(Uuid::parse(std::string_view("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11\0", 37)),
               allot::BadRequest);
}

TEST(Uuid, DefaultIsNilAndStrRoundTrips) {
  EXPECT_EQ(Uuid{}.str(), "00000000-0000-0000-0000-000000000000");
  const Uuid u = Uuid::random();
  EXPECT_EQ(Uuid::parse(u.str()), u);
  EXPECT_EQ(u.str().size(), 36u);
}

TEST(Uuid, RandomIsVersion4VariantRfc4122AndUnique) {
  std::set<Uuid> seen;
  for (int i = 0; i < 20000; ++i) {
    const Uuid u = Uuid::random();
    ASSERT_EQ(u.bytes()[6] >> 4, 4) << u.str();
    ASSERT_EQ(u.bytes()[8] >> 6, 2) << u.str();
    ASSERT_EQ(u.str()[14], '4');
    ASSERT_TRUE(seen.insert(u).second) << "duplicate " << u.str();
  }
}
