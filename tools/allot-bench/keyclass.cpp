#include "keyclass.hpp"

namespace bench {

std::string key_class(std::string_view key) {
  std::string out;
  out.reserve(key.size());
  std::size_t start = 0;
  while (true) {
    const std::size_t slash = key.find('/', start);
    const std::string_view seg =
        key.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    const std::size_t colon = seg.find(':');
    if (colon == std::string_view::npos) {
      out.append(seg);
    } else {
      out.append(seg.substr(0, colon + 1));
      out.push_back('*');
    }
    if (slash == std::string_view::npos) break;
    out.push_back('/');
    start = slash + 1;
  }
  return out;
}

}  // namespace bench
