// The console table, then the speeds of repy6 against raw sockets measured in the same
// run, with the targets they are held to.
#pragma once

#include <benchmark/benchmark.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace bench {

/// Prints Google Benchmark's console table, then:
///
/// - one line per repy/raw pair with its *speed*: raw time / repy time per iteration,
///   for real and for CPU time, medians over repetitions when there are several. 1.00
///   is as fast as raw sockets, 0.50 half as fast; higher is better. A benchmark
///   ".../repy/VARIANT..." pairs with ".../raw/VARIANT..." or, when there is none, with
///   ".../raw..." (one raw twin shared by several repy variants). Raw variants named
///   ".../raw_WHAT..." (the same loop with something more, for comparison) get a line
///   of their own under the pair.
/// - a verdict for each pair with a target ("speed >= X of raw"), on real time (what a
///   program sees) and on CPU time (the benchmark thread's, with the kernel's work for
///   it; the whole process's where a benchmark says so). On a loaded machine the CPU
///   time is the steadier of the two: another program's turn on the core is not in it.
/// - the nanny's charge: nanosecond per charge as each thread sees it (CPU time), alone
///   and with two threads charging the same resource.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  RatioReporter();

  /// Holds the repy benchmarks whose name starts with `repy_prefix` to a speed of at
  /// least `min_speed` of their raw twin.
  void add_target(std::string repy_prefix, double min_speed);

  void ReportRuns(const std::vector<Run>& reports) override;
  void Finalize() override;

 private:
  struct Times {
    double real = 0, cpu = 0;
  };
  struct Samples {
    std::vector<double> real, cpu;
  };
  struct Target {
    std::string prefix;
    double min_speed;
  };

  void print_pairs() const;
  void print_nanny() const;
  const Target* target_of(const std::string& name) const;
  const Times* raw_twin(const std::string& repy_name) const;
  /// The ".../raw_WHAT..." variants of a repy benchmark's twin, by name.
  std::vector<std::pair<std::string, const Times*>> raw_variants(
      const std::string& repy_name) const;
  static void print_line(const std::string& name, const Times& repy, const Times& raw,
                         const std::string& verdict);

  std::map<std::string, Samples> singles_;
  std::map<std::string, Times> medians_;
  std::vector<Target> targets_;
};

}  // namespace bench
