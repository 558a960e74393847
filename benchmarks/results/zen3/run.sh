#!/bin/bash
# Idle measurements, session 2026-12-01 05:30 UTC, Zen 3 (AVX2) 2-core EPYC.
cd /work/main
B=build/bin/ntp-bench
O=/tmp/idle4
echo "start $(date -u) $(uptime)" > $O/progress
$B --peak-only --num-threads=1 > $O/peak1.txt 2>&1
for i in 1 2 3; do $B --peak-only --num-threads=2 >> $O/peak2.txt 2>&1; done
for L in 1,24,24,24,1 1,64,64,64,1 1,128,128,1; do
  for T in 2 1; do
    echo "bench $L t$T $(date -u +%T) $(uptime)" >> $O/progress
    $B --torch=off --layers=$L --min-order=3 --max-order=9 --num-threads=$T > $O/bench_${L}_t$T.txt 2>&1
  done
done
for BATCH in 4096 65536; do
  for T in 1 2; do
    echo "scale $BATCH t$T $(date -u +%T) $(uptime)" >> $O/progress
    $B --torch=off --layers=1,24,24,24,1 --min-order=3 --max-order=9 --batch=$BATCH --num-threads=$T > $O/scale_${BATCH}_t$T.txt 2>&1
  done
done
echo "jax $(date -u +%T) $(uptime)" >> $O/progress
PYTHONPATH=build/python ~/.cache/ntp/jax-venv/bin/python benchmarks/jax_jet.py --orders 2,5,9 --batches 256 --jacfwd-max-order 9 > $O/jax_jet.txt 2>&1
echo "lapl $(date -u +%T) $(uptime)" >> $O/progress
P64=$(awk -F"|" '$2~/f64/{print $5+0}' $O/peak2.txt | sort -g | tail -1); P32=$(awk -F"|" '$2~/f32/{print $5+0}' $O/peak2.txt | sort -g | tail -1)
PYTHONPATH=build/python /usr/bin/python3 benchmarks/laplacian_peers.py --dims 2,8,32 --peak-f64 $P64 --peak-f32 $P32 > $O/lapl.txt 2>&1
echo "done $(date -u +%T) $(uptime)" >> $O/progress
