#!/bin/bash
# Idle measurements, session 2026-12-02, Zen 3 (AVX2) 2-core EPYC, main with this session's commits.
cd /work/main
B=build/bin/ntp-bench
O=${O:-/tmp/idle5}
echo "start $(date -u) $(uptime)" > $O/progress
$B --peak-only --num-threads=1 > $O/peak1.txt 2>&1
for i in 1 2 3; do $B --peak-only --num-threads=2 >> $O/peak2.txt 2>&1; done
for L in 1,24,24,24,1 1,64,64,64,1 1,128,128,1; do
  echo "bench $L t1 $(date -u +%T) $(uptime)" >> $O/progress
  $B --torch=off --layers=$L --min-order=3 --max-order=9 --num-threads=1 > $O/bench_${L}_t1.txt 2>&1
done
for BATCH in 4096 65536; do
  echo "scale $BATCH $(date -u +%T) $(uptime)" >> $O/progress
  $B --torch=off --layers=1,24,24,24,1 --min-order=3 --max-order=9 --batch=$BATCH --num-threads=2 --scaling > $O/scaling_${BATCH}.txt 2>&1
done
echo "jax $(date -u +%T) $(uptime)" >> $O/progress
PYTHONPATH=build/python ~/.cache/ntp/jax-venv/bin/python benchmarks/jax_jet.py --orders 2,5,9 --batches 256 --jacfwd-max-order 9 > $O/jax_jet.txt 2>&1
echo "done $(date -u +%T) $(uptime)" >> $O/progress
