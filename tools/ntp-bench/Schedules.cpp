//===- Schedules.cpp - ntp-bench's --schedules ----------------------------===//

#include "Schedules.h"

#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringRef.h"

using ntp::bench::Schedule;

std::optional<std::vector<Schedule>>
ntp::bench::parseSchedules(const std::string &text) {
  std::vector<Schedule> result;
  llvm::SmallVector<llvm::StringRef> parts;
  llvm::StringRef(text).split(parts, ',');
  for (llvm::StringRef part : parts) {
    part = part.trim();
    Schedule schedule;
    schedule.name = part.str();
    if (part == "base") {
      schedule.interleave = schedule.affineOutputs = 1;
      schedule.hoistPrimitives = false;
    } else if (part != "auto") {
      llvm::SmallVector<llvm::StringRef> numbers;
      part.split(numbers, '/');
      int64_t hoist = 1;
      if ((numbers.size() < 3 || numbers.size() > 5) ||
          numbers[0].getAsInteger(10, schedule.interleave) ||
          numbers[1].getAsInteger(10, schedule.affineOutputs) ||
          numbers[2].getAsInteger(10, schedule.affineOrders) ||
          (numbers.size() >= 4 && numbers[3].getAsInteger(10, hoist)) ||
          schedule.interleave < 0 || schedule.interleave > 8 ||
          schedule.affineOutputs < 0 || schedule.affineOutputs > 8 ||
          schedule.affineOrders < 0 || (hoist != 0 && hoist != 1))
        return std::nullopt;
      schedule.hoistPrimitives = hoist == 1;
      // The gradient tile, OxI: both in 1..8, or 0x0 (chosen).
      if (numbers.size() == 5) {
        auto [outputs, inputs] = numbers[4].split('x');
        if (outputs.getAsInteger(10, schedule.gradOutputs) ||
            inputs.getAsInteger(10, schedule.gradInputs) ||
            schedule.gradOutputs < 0 || schedule.gradOutputs > 8 ||
            schedule.gradInputs < 0 || schedule.gradInputs > 8 ||
            (schedule.gradOutputs == 0) != (schedule.gradInputs == 0))
          return std::nullopt;
      }
    }
    result.push_back(schedule);
  }
  return result;
}
