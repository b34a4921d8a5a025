#include "report.hpp"

#include <cstdio>
#include <iomanip>
#include <sstream>

namespace bench {
namespace {

std::string fixed(double v, int decimals) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(decimals) << v;
  return s.str();
}

std::string opt_text(const std::optional<std::int64_t>& v, const std::string& none = "n/a") {
  return v ? group_digits(static_cast<std::uint64_t>(*v < 0 ? 0 : *v)) : none;
}

double per_second(std::uint64_t n, double seconds) { return seconds > 0 ? n / seconds : 0.0; }

// "label ........ value" rows, label column of fixed width.
void row(std::ostream& out, const std::string& label, const std::string& value) {
  out << "  " << std::left << std::setw(26) << label << std::right << std::setw(14) << value
      << "\n";
}

void row(std::ostream& out, const std::string& label, const std::string& value,
         const std::string& note) {
  out << "  " << std::left << std::setw(26) << label << std::right << std::setw(14) << value
      << "   " << note << "\n";
}

nlohmann::json opt_json(const std::optional<std::int64_t>& v) {
  return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
}

}  // namespace

std::string group_digits(std::uint64_t n) {
  std::string digits = std::to_string(n);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return out;
}

std::vector<std::string> failure_reasons(const RunResult& r) {
  std::vector<std::string> why;
  if (r.counters.errors)
    why.push_back(group_digits(r.counters.errors) + " redemptions failed with an error");
  // Redis keeps no log and has no verify(): nothing more to check (n/a is
  // not a failure there, unlike a pg check that could not run).
  if (r.options.backend == Backend::redis) return why;
  if (!r.checks.enforced_violations)
    why.push_back("allot.violations could not be read");
  else if (*r.checks.enforced_violations > 0)
    why.push_back(group_digits(*r.checks.enforced_violations) + " enforced violations");
  if (!r.checks.verify_count)
    why.push_back("allot.verify() could not run");
  else if (*r.checks.verify_count > 0)
    why.push_back(group_digits(*r.checks.verify_count) + " allot.verify() rows");
  if (r.hot_used && r.hot_limit && *r.hot_used > *r.hot_limit)
    why.push_back("the hot voucher is over its limit");
  return why;
}

int exit_status(const RunResult& r) { return failure_reasons(r).empty() ? 0 : 1; }

void print_report(std::ostream& out, const RunResult& r) {
  const Options& o = r.options;
  const Counters& c = r.counters;
  const bool redis = o.backend == Backend::redis;
  out << "allot-bench: scenario " << to_string(o.scenario) << ", " << o.threads << " threads, "
      << (redis ? "redis EVALSHA (" + o.redis_host + ":" + std::to_string(o.redis_port) + ")"
          : o.batch > 1 ? "redeem_many x " + std::to_string(o.batch)
                        : std::string("redeem"))
      << ", " << o.keys_per_redemption << " keys, " << fixed(r.elapsed_s, 1) << " s, seed "
      << r.seed << "\n";
  if (!r.limits_set.empty()) {
    out << "\nlimits (--setup" << (o.reset ? " --reset" : "") << ")\n";
    for (const std::string& l : r.limits_set) out << "  " << l << "\n";
  }

  out << "\nredemptions\n";
  row(out, "attempts", group_digits(c.attempts));
  if (redis) {
    row(out, "granted", group_digits(c.granted()), "Lua sliding window, 60 s");
    row(out, "denied", group_digits(c.denied()), "the script does not say which key");
  } else {
    row(out, "granted", group_digits(c.granted()),
        "fast " + group_digits(c.granted_fast) + ", slow " + group_digits(c.granted_slow) +
            (c.replayed ? ", replays " + group_digits(c.replayed) : ""));
    row(out, "denied", group_digits(c.denied()),
        "fast " + group_digits(c.denied_fast) + ", slow " + group_digits(c.denied_slow));
  }
  row(out, "errors", group_digits(c.errors), "failed calls " + group_digits(c.failed_calls));
  if (o.uses_hot_voucher()) {
    row(out, "hot " + o.hot_key() + " tried", group_digits(c.hot_attempts),
        "granted " + group_digits(c.hot_granted));
    row(out, "hot used / limit", opt_text(r.hot_used) + " / " + opt_text(r.hot_limit, "none"));
  }

  if (!c.denied_by_class.empty()) {
    out << "\ndenied by class (a denial can name several keys)\n";
    for (const auto& [cls, n] : c.denied_by_class) row(out, cls, group_digits(n));
  }
  if (!c.error_messages.empty()) {
    out << "\nerrors\n";
    for (const auto& [msg, n] : c.error_messages)
      out << "  " << group_digits(n) << "  " << msg << "\n";
  }

  out << "\nthroughput\n";
  row(out, "redemptions/s", fixed(per_second(c.attempts - c.errors, r.elapsed_s), 1));
  row(out, "granted/s", fixed(per_second(c.granted(), r.elapsed_s), 1));
  row(out, "calls/s", fixed(per_second(c.calls, r.elapsed_s), 1));

  const Histogram& h = r.latency;
  out << "\nlatency per call, microseconds (" << group_digits(h.count()) << " calls)\n";
  row(out, "p50", group_digits(h.percentile(0.50)));
  row(out, "p90", group_digits(h.percentile(0.90)));
  row(out, "p99", group_digits(h.percentile(0.99)));
  row(out, "max", group_digits(h.max()));
  row(out, "mean", fixed(h.mean(), 1));

  out << "\nserver\n";
  if (redis) {
    row(out, "server checks", "n/a",
        "redis: not durable, not transactional, no audit log, no verify()");
    const std::vector<std::string> why = failure_reasons(r);
    out << "\nresult: " << (why.empty() ? "OK" : "FAILED") << "\n";
    for (const std::string& w : why) out << "  - " << w << "\n";
    return;
  }
  row(out, "path flips", opt_text(r.path_flips),
      r.path_flips ? "allot.stats promotions + demotions"
                   : "allot.stats is NULL (no shared_preload_libraries)");
  const bool grants_match =
      r.grant_events && *r.grant_events == static_cast<std::int64_t>(c.granted());
  row(out, "grant events in log", opt_text(r.grant_events),
      r.grant_events ? (grants_match ? "= granted" : "!= granted (other clients, or lost grants)")
                     : "");
  row(out, "deny events in log", opt_text(r.deny_events), "0 when allot.log_denials is off");
  row(out, "enforced violations", opt_text(r.checks.enforced_violations, "unknown"));
  for (const std::string& v : r.checks.violation_rows) out << "    " << v << "\n";
  row(out, "verify() rows", opt_text(r.checks.verify_count, "unknown"));
  for (const std::string& v : r.checks.verify_rows) out << "    " << v << "\n";
  for (const std::string& p : r.checks.problems) out << "  ! " << p << "\n";

  const std::vector<std::string> why = failure_reasons(r);
  out << "\nresult: " << (why.empty() ? "OK" : "FAILED") << "\n";
  for (const std::string& w : why) out << "  - " << w << "\n";
}

nlohmann::json report_json(const RunResult& r) {
  const Options& o = r.options;
  const Counters& c = r.counters;
  const Histogram& h = r.latency;
  nlohmann::json j;
  j["backend"] = to_string(o.backend);
  j["scenario"] = to_string(o.scenario);
  j["threads"] = o.threads;
  j["batch"] = o.batch;
  j["keys_per_redemption"] = o.keys_per_redemption;
  j["seed"] = r.seed;
  j["elapsed_s"] = r.elapsed_s;
  j["limits_set"] = r.limits_set;
  j["attempts"] = c.attempts;
  j["calls"] = c.calls;
  j["failed_calls"] = c.failed_calls;
  j["granted"] = {{"total", c.granted()},
                  {"fast", c.granted_fast},
                  {"slow", c.granted_slow},
                  {"replayed", c.replayed}};
  j["denied"] = {{"total", c.denied()}, {"fast", c.denied_fast}, {"slow", c.denied_slow}};
  j["denied_by_class"] = c.denied_by_class;
  j["errors"] = c.errors;
  j["error_messages"] = c.error_messages;
  j["throughput"] = {{"redemptions_per_s", per_second(c.attempts - c.errors, r.elapsed_s)},
                     {"granted_per_s", per_second(c.granted(), r.elapsed_s)},
                     {"calls_per_s", per_second(c.calls, r.elapsed_s)}};
  j["latency_us"] = {{"calls", h.count()},
                     {"p50", h.percentile(0.50)},
                     {"p90", h.percentile(0.90)},
                     {"p99", h.percentile(0.99)},
                     {"max", h.max()},
                     {"mean", h.mean()}};
  if (o.uses_hot_voucher())
    j["hot"] = {{"key", o.hot_key()},
                {"attempts", c.hot_attempts},
                {"granted", c.hot_granted},
                {"used", opt_json(r.hot_used)},
                {"limit", opt_json(r.hot_limit)}};
  // null below means n/a with the redis backend (no server-side checks).
  j["server_checks"] = o.backend == Backend::redis ? "n/a" : "run";
  j["path_flips"] = opt_json(r.path_flips);
  j["grant_events"] = opt_json(r.grant_events);
  j["deny_events"] = opt_json(r.deny_events);
  j["violations"] = opt_json(r.checks.enforced_violations);
  j["violation_rows"] = r.checks.violation_rows;
  j["verify_rows"] = opt_json(r.checks.verify_count);
  j["verify_sample"] = r.checks.verify_rows;
  j["problems"] = r.checks.problems;
  j["failures"] = failure_reasons(r);
  j["exit_status"] = exit_status(r);
  return j;
}

}  // namespace bench
