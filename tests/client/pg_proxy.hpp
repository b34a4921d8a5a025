// A tiny man-in-the-middle for the retry tests: a Unix-socket proxy in front
// of the test server that can lose a connection exactly around COMMIT, which
// pg_terminate_backend cannot do deterministically.
//
//   PgProxy p;                         // listens in a temp dir
//   Client q{p.conninfo()};
//   p.arm(PgProxy::Mode::commit_then_drop);  // next COMMIT: server commits,
//                                            // client never hears back
#pragma once

#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace allot_test {

class PgProxy {
 public:
  enum class Mode {
    pass,              // forward everything
    commit_then_drop,  // forward the next COMMIT, swallow the reply, drop the connection
    drop_commit,       // drop the connection instead of forwarding the next COMMIT
  };
  PgProxy();
  ~PgProxy();
  PgProxy(const PgProxy&) = delete;
  PgProxy& operator=(const PgProxy&) = delete;

  std::string conninfo() const;  // the test database, through the proxy
  void arm(Mode m) { mode_ = m; }
  int drops() const { return drops_; }  // connections dropped on purpose

 private:
  void accept_loop();
  void pump(int client_fd);
  int connect_upstream() const;

  std::string dir_;
  int port_ = 5432;
  int listen_fd_ = -1;
  std::atomic<Mode> mode_{Mode::pass};
  std::atomic<int> drops_{0};
  std::atomic<bool> stop_{false};
  std::thread acceptor_;
  std::mutex mu_;
  std::vector<std::thread> pumps_;
};

}  // namespace allot_test
