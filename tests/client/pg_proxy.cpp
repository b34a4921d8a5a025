#include "pg_proxy.hpp"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include "test_db.hpp"

namespace allot_test {
namespace {

std::string env_or(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v && *v ? v : fallback;
}

bool write_all(int fd, const char* p, std::size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w <= 0) return false;
    p += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

sockaddr_un unix_addr(const std::string& path) {
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  if (path.size() >= sizeof a.sun_path) throw std::runtime_error("socket path too long: " + path);
  std::memcpy(a.sun_path, path.c_str(), path.size() + 1);
  return a;
}

}  // namespace

PgProxy::PgProxy() {
  char tmpl[] = "/tmp/allot_proxy.XXXXXX";
  if (!::mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
  dir_ = tmpl;
  port_ = std::atoi(env_or("PGPORT", "5432").c_str());
  const std::string path = dir_ + "/.s.PGSQL." + std::to_string(port_);
  listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un a = unix_addr(path);
  if (listen_fd_ < 0 || ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::listen(listen_fd_, 16) != 0)
    throw std::runtime_error("proxy: cannot listen on " + path);
  acceptor_ = std::thread([this] { accept_loop(); });
}

PgProxy::~PgProxy() {
  stop_ = true;
  ::shutdown(listen_fd_, SHUT_RDWR);
  ::close(listen_fd_);
  acceptor_.join();
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& t : pumps_) t.join();
  }
  ::unlink((dir_ + "/.s.PGSQL." + std::to_string(port_)).c_str());
  ::rmdir(dir_.c_str());
}

std::string PgProxy::conninfo() const {
  return "host=" + dir_ + " port=" + std::to_string(port_) + " dbname=" + db_name();
}

int PgProxy::connect_upstream() const {
  const std::string host = env_or("PGHOST", "/var/run/postgresql");
  const std::string port = env_or("PGPORT", "5432");
  if (host[0] == '/') {
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un a = unix_addr(host + "/.s.PGSQL." + port);
    if (fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) return fd;
    if (fd >= 0) ::close(fd);
    return -1;
  }
  addrinfo hints{}, *res = nullptr;
  hints.ai_socktype = SOCK_STREAM;
  if (::getaddrinfo(host.c_str(), port.c_str(), &hints, &res) != 0) return -1;
  int fd = -1;
  for (addrinfo* ai = res; ai; ai = ai->ai_next) {
    fd = ::socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
    if (fd >= 0 && ::connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) break;
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
  ::freeaddrinfo(res);
  return fd;
}

void PgProxy::accept_loop() {
  while (!stop_) {
    int c = ::accept(listen_fd_, nullptr, nullptr);
    if (c < 0) {
      if (stop_) return;
      continue;
    }
    std::lock_guard<std::mutex> lock(mu_);
    pumps_.emplace_back([this, c] { pump(c); });
  }
}

// Copies bytes both ways. libpqxx ends a transaction with the simple query
// "COMMIT" (a 'Q' message whose text is NUL-terminated): that is what an
// armed proxy looks for in the client's bytes.
void PgProxy::pump(int client) {
  int server = connect_upstream();
  if (server < 0) {
    ::close(client);
    return;
  }
  static const char kCommit[] = "COMMIT";  // followed by its NUL in the message
  char buf[65536];
  bool open = true;
  while (open && !stop_) {
    pollfd fds[2] = {{client, POLLIN, 0}, {server, POLLIN, 0}};
    if (::poll(fds, 2, 100) < 0) break;
    if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t n = ::read(client, buf, sizeof buf);
      if (n <= 0) break;
      const Mode m = mode_;
      const bool commit = m != Mode::pass &&
                          std::search(buf, buf + n, kCommit, kCommit + sizeof kCommit) != buf + n;
      if (commit && m == Mode::drop_commit) {
        mode_ = Mode::pass;
        ++drops_;
        break;  // the server never sees COMMIT: it rolls back when we hang up
      }
      if (!write_all(server, buf, static_cast<std::size_t>(n))) break;
      if (commit && m == Mode::commit_then_drop) {
        mode_ = Mode::pass;
        // Wait for the server's answer (it has committed), swallow it, hang up.
        pollfd s{server, POLLIN, 0};
        if (::poll(&s, 1, 5000) > 0) (void)::read(server, buf, sizeof buf);
        ++drops_;
        break;
      }
    }
    if (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t n = ::read(server, buf, sizeof buf);
      if (n <= 0 || !write_all(client, buf, static_cast<std::size_t>(n))) open = false;
    }
  }
  ::close(server);
  ::close(client);
}

}  // namespace allot_test
