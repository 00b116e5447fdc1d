// The speeds of repy6 against raw sockets, and the nanny's charge, after the table.
#include "ratio_report.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>

namespace bench {

namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  if (n == 0) return 0;
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// raw time / repy time: above 1 repy is faster, below 1 slower.
double speed(double repy, double raw) { return repy > 0 ? raw / repy : 0.0; }

constexpr const char* nanny_prefix = "nanny_charge/";

}  // namespace

// Colour only on a terminal, as the library's own console reporter does by default.
RatioReporter::RatioReporter() : ConsoleReporter(::isatty(STDOUT_FILENO) ? OO_Color : OO_None) {}

void RatioReporter::add_target(std::string repy_prefix, double min_speed) {
  targets_.push_back({std::move(repy_prefix), min_speed});
}

void RatioReporter::ReportRuns(const std::vector<Run>& reports) {
  ConsoleReporter::ReportRuns(reports);
  for (const Run& run : reports) {
    if (run.error_occurred) continue;
    if (run.run_type == Run::RT_Iteration) {
      auto& t = singles_[run.benchmark_name()];
      t.real.push_back(run.GetAdjustedRealTime());
      t.cpu.push_back(run.GetAdjustedCPUTime());
    } else if (run.aggregate_name == "median") {
      // With --benchmark_report_aggregates_only the single runs never arrive.
      medians_[run.run_name.str()] = {run.GetAdjustedRealTime(), run.GetAdjustedCPUTime()};
    }
  }
}

void RatioReporter::Finalize() {
  ConsoleReporter::Finalize();
  for (const auto& [name, t] : singles_) {
    if (!medians_.count(name)) medians_[name] = {median(t.real), median(t.cpu)};
  }
  print_pairs();
  print_nanny();
}

const RatioReporter::Target* RatioReporter::target_of(const std::string& name) const {
  for (const Target& t : targets_) {
    if (name.rfind(t.prefix, 0) == 0) return &t;
  }
  return nullptr;
}

const RatioReporter::Times* RatioReporter::raw_twin(const std::string& repy_name) const {
  const auto at = repy_name.find("/repy");
  if (at == std::string::npos) return nullptr;
  std::string same_variant = repy_name;
  same_variant.replace(at, 5, "/raw");
  if (auto found = medians_.find(same_variant); found != medians_.end()) return &found->second;
  // ".../repy/VARIANT/rest" against the shared ".../raw/rest".
  if (repy_name.compare(at, 6, "/repy/") != 0) return nullptr;
  const auto variant_end = repy_name.find('/', at + 6);
  std::string shared = repy_name.substr(0, at) + "/raw";
  if (variant_end != std::string::npos) shared += repy_name.substr(variant_end);
  if (auto found = medians_.find(shared); found != medians_.end()) return &found->second;
  return nullptr;
}

std::vector<std::pair<std::string, const RatioReporter::Times*>> RatioReporter::raw_variants(
    const std::string& repy_name) const {
  std::vector<std::pair<std::string, const Times*>> out;
  const auto at = repy_name.find("/repy/");
  if (at == std::string::npos) return out;
  const auto variant_end = repy_name.find('/', at + 6);
  const std::string prefix = repy_name.substr(0, at) + "/raw_";
  const std::string rest = variant_end == std::string::npos ? "" : repy_name.substr(variant_end);
  for (const auto& [name, times] : medians_) {
    if (name.size() <= prefix.size() + rest.size() || name.rfind(prefix, 0) != 0 ||
        name.compare(name.size() - rest.size(), rest.size(), rest) != 0) {
      continue;
    }
    const std::string what =
        name.substr(prefix.size() - 4, name.size() - rest.size() - prefix.size() + 4);
    if (what.find('/') == std::string::npos) out.emplace_back(what, &times);
  }
  return out;
}

void RatioReporter::print_line(const std::string& name, const Times& repy, const Times& raw,
                               const std::string& verdict) {
  std::printf("%-56s %10.0f %10.0f %7.3f %10.0f %10.0f %7.3f  %s\n", name.c_str(), repy.real,
              raw.real, speed(repy.real, raw.real), repy.cpu, raw.cpu, speed(repy.cpu, raw.cpu),
              verdict.c_str());
}

void RatioReporter::print_pairs() const {
  bool header = false;
  for (const auto& [name, repy] : medians_) {
    const Times* raw = raw_twin(name);
    if (raw == nullptr) continue;
    if (!header) {
      std::printf(
          "\nspeed of repy6 = raw time / repy time per iteration (medians): 1.00 is as fast as "
          "raw sockets, higher is better\n%-56s %10s %10s %7s %10s %10s %7s  %s\n",
          "benchmark", "real repy", "real raw", "speed", "cpu repy", "cpu raw", "speed", "target");
      header = true;
    }
    std::string verdict;
    if (const Target* t = target_of(name)) {
      auto mark = [&](double s) { return s >= t->min_speed ? "met" : "MISSED"; };
      char text[64];
      std::snprintf(text, sizeof text, ">= %.2f: real %s, cpu %s", t->min_speed,
                    mark(speed(repy.real, raw->real)), mark(speed(repy.cpu, raw->cpu)));
      verdict = text;
    }
    print_line(name, repy, *raw, verdict);
    for (const auto& [what, variant] : raw_variants(name)) {
      print_line("  the same against " + what, repy, *variant, "(for comparison)");
    }
  }
  if (header) std::printf("(times in ns)\n");
}

void RatioReporter::print_nanny() const {
  const Times* alone = nullptr;
  const Times* pair = nullptr;
  std::string alone_name, pair_name;
  for (const auto& [name, t] : medians_) {
    if (name.rfind(nanny_prefix, 0) != 0) continue;
    if (name.find("threads:1") != std::string::npos) alone = &t, alone_name = name;
    if (name.find("threads:2") != std::string::npos) pair = &t, pair_name = name;
  }
  if (alone == nullptr) return;
  // CPU time per iteration is the threads' CPU time over all their charges: the cost
  // of one charge as each thread sees it, whether or not the other thread got a core.
  std::printf("\nnanny: ns per charge as each thread sees it (CPU time, median)\n");
  std::printf("%-56s %8.1f  target < 50 ns: %s\n", alone_name.c_str(), alone->cpu,
              alone->cpu < 50 ? "met" : "MISSED");
  if (pair == nullptr) return;
  const double growth = alone->cpu > 0 ? pair->cpu / alone->cpu : 0.0;
  std::printf("%-56s %8.1f  %.2fx one thread's; target <= 2x: %s\n", pair_name.c_str(), pair->cpu,
              growth, growth <= 2.0 ? "met" : "MISSED");
}

}  // namespace bench
