//===- Schedules.h - ntp-bench's --schedules ---------------------*- C++
//-*-===//
//
// The CPU schedules ntp-bench compares side by side: 'auto' (the target's
// choice), 'base' (one neuron at a time, unblocked affine layers) or
// 'I/B/K[/H]'.
//
//===----------------------------------------------------------------------===//

#ifndef NTP_BENCH_SCHEDULES_H
#define NTP_BENCH_SCHEDULES_H

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace ntp::bench {

/// A CPU schedule of --schedules: its name and target options.
struct Schedule {
  std::string name;
  int64_t interleave = 0, affineOutputs = 0, affineOrders = 0;
  bool hoistPrimitives = true;
  /// The reverse mode's parameter-gradient tile (outputs x inputs); 0 x 0:
  /// the compiler's choice.
  int64_t gradOutputs = 0, gradInputs = 0;
};

/// The comma-separated schedules of `text`, or nullopt if one is malformed.
std::optional<std::vector<Schedule>> parseSchedules(const std::string &text);

} // namespace ntp::bench

#endif // NTP_BENCH_SCHEDULES_H
