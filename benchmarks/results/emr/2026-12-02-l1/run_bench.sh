#!/bin/bash
# One thread pinned to CPU 1, batch 256, orders 3..9, both dtypes, the
# issue-17 networks: ntp-bench's minimum (of >= 200 calls) and median, as
# ../2026-12-02/run.sh (its after/ folder: the same machine before this
# folder's change).
cd "$(dirname "$0")/../../../.."
B=build/bin/ntp-bench
O=${O:?set O to an absolute output folder}
mkdir -p $O
for L in 1,24,24,24,1 1,64,64,64,1 1,128,128,1; do
  for S in min median; do
    taskset -c 1 $B --torch=off --layers=$L --min-order=3 --max-order=9 --batch=256 --dtypes=f32,f64 --num-threads=1 --statistic=$S > $O/bench_${L}_t1_$S.txt 2>&1
  done
done
