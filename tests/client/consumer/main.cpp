// Links against an installed allot::client. Without arguments it checks the
// parts that need no server; with a connection string it also redeems.
#include <allot/client.hpp>

#include <iostream>

int main(int argc, char** argv) {
  const allot::Uuid txn = allot::Uuid::random();
  if (allot::Uuid::parse(txn.str()) != txn) {
    std::cerr << "uuid round trip failed\n";
    return 1;
  }
  try {
    allot::Uuid::parse("not a uuid");
    std::cerr << "parse accepted garbage\n";
    return 1;
  } catch (const allot::BadRequest&) {
  }
  if (argc < 2) {
    std::cout << "consumer: offline checks passed (no connection string given)\n";
    return 0;
  }
  try {
    allot::Client q{argv[1]};
    q.set_limit("voucher:*", 1, std::chrono::hours{24});
    const allot::Decision a = q.redeem(txn, {"voucher:C1", "user:U1"});
    const allot::Decision b = q.redeem(allot::Uuid::random(), {"voucher:C1"});
    const allot::Decision c = q.redeem(txn, {"voucher:C1", "user:U1"});
    if (!a.granted || b.granted || !c.replayed || !b.retry_after) {
      std::cerr << "unexpected decisions\n";
      return 1;
    }
    std::cout << "consumer: granted, then denied (retry after " << b.retry_after->count()
              << " ms), then replayed\n";
  } catch (const allot::Error& e) {
    std::cerr << "consumer: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
