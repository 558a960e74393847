#!/bin/sh
# Old (an earlier build's ntp-compile, copied to $OLD) against this
# checkout's, --target-cpu=native, both in one process called in turns
# (benchmarks/ab_interleaved.py): 40 rounds x 3 calls each, one CPU pinned.
# Run from the repository root:
#   OLD=/tmp/base/ntp-compile sh run_ab.sh > ab_run1.md     (main c6bbc58)
#   OLD=/tmp/cur/ntp-compile ORDERS="1 3 5 7 9" sh run_ab.sh > ab_lanes_run1.md
#                                                            (main d94b992)
for net in 1,24,24,24,1 1,64,64,64,1 1,128,128,1; do
  for dt in f32 f64; do
    for n in ${ORDERS:-3 5 7 8 9}; do
      python3 benchmarks/ab_interleaved.py --layers $net --order $n --dtype $dt \
        --rounds 40 --per-round 3 "old=@$OLD" "new=" | tail -1 |
        sed "s/^| new /| $net | $dt | $n /"
    done
  done
done
