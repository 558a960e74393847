#!/bin/bash
# Idle measurements, session 2026-12-02 (13:30-16:30 UTC), Intel Xeon Emerald Rapids (family 6 model 207, AVX-512, 2 cores):
# O=.../before with main a64d70a's build, O=.../after with bedfe0f's (the aligned jets and the latency-aware gradient tiles).
cd "$(dirname "$0")/../../../.."
B=build/bin/ntp-bench
O=${O:?set O to an absolute output folder}
echo "start $(date -u) $(uptime)" > $O/progress.log
$B --peak-only --num-threads=1 > $O/peak1.txt 2>&1
for i in 1 2 3; do $B --peak-only --num-threads=2 >> $O/peak2.txt 2>&1; done
for L in 1,24,24,24,1 1,64,64,64,1 1,128,128,1; do
  echo "bench $L t1 $(date -u +%T) $(uptime)" >> $O/progress.log
  taskset -c 1 $B --torch=off --layers=$L --min-order=3 --max-order=9 --batch=256 --dtypes=f32,f64 --num-threads=1 --statistic=min > $O/bench_${L}_t1_min.txt 2>&1
  echo "bench $L t1 median $(date -u +%T) $(uptime)" >> $O/progress.log
  taskset -c 1 $B --torch=off --layers=$L --min-order=3 --max-order=9 --batch=256 --dtypes=f32,f64 --num-threads=1 > $O/bench_${L}_t1_median.txt 2>&1
done
for BATCH in 4096 65536; do
  echo "scale $BATCH $(date -u +%T) $(uptime)" >> $O/progress.log
  $B --torch=off --layers=1,24,24,24,1 --min-order=3 --max-order=9 --batch=$BATCH --num-threads=2 --scaling > $O/scaling_${BATCH}.txt 2>&1
done
echo "done $(date -u +%T) $(uptime)" >> $O/progress.log
