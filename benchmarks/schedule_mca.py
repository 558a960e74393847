#!/usr/bin/env python3
"""What binds the hot loops of an ntp CPU kernel, per schedule: llvm-mca.

Compiles a network with ntp-compile --emit=asm for one CPU under each
schedule (--schedules: 'base' = one neuron at a time and unblocked affine
layers, 'auto' = the CPU target's choice from LLVM's scheduling model, or
'I/B/K' = interleave, affine outputs, affine orders), finds the innermost
loops of the forward and training-step entry points (a label and the
backward branch to it) and the outlined activation-jet functions, and runs
llvm-mca on each: the loop body with its loop-carried dependencies
(cycles per iteration over 100 iterations), beside its FMA count over the
FMA pipes (the FMA bound) and its memory operations over the load ports.
The binding resource is whichever of FMA pipes, loads or the dependency
chains (cycles above both bounds) sets the cycles.

  benchmarks/schedule_mca.py --build build --order 9 --dtype f32 \\
      --cpu znver4 --schedules base,auto

Static estimates from LLVM's model, not measurements.
"""
import argparse
import collections
import re
import shutil
import subprocess
import sys
import tempfile

FMA = re.compile(r"^v?f(n)?m(add|sub)(132|213|231)|^fmla")
MUL_ADD = re.compile(r"^v?(mul|add|sub)p[sd]|^f(mul|add|sub)")


def functions(asm):
    """name -> list of (label or None, instruction) lines."""
    result, current = collections.OrderedDict(), None
    for line in asm.splitlines():
        stripped = line.split("#")[0].strip() if not line.strip().startswith(
            "#") else ""
        if not stripped:
            continue
        m = re.match(r"^([A-Za-z_.$][\w.$]*):", stripped)
        if m and not stripped.startswith(".L"):
            current = m.group(1)
            result[current] = []
            continue
        if current is None:
            continue
        if m:
            result[current].append((m.group(1), None))
            continue
        if stripped.startswith("."):
            continue
        result[current].append((None, stripped))
    return result


def innermost_loops(lines):
    """Bodies (instruction lists) of loops with no loop inside."""
    labels = {lab: i for i, (lab, _) in enumerate(lines) if lab}
    loops = []
    for i, (_, ins) in enumerate(lines):
        if not ins:
            continue
        m = re.match(r"^(j\w+|b\.\w+|b|cbn?z|tbn?z)\s+.*?(\.L\w+)\s*$", ins)
        if m and m.group(2) in labels and labels[m.group(2)] < i:
            loops.append((labels[m.group(2)], i))
    inner = [l for l in loops
             if not any(o != l and l[0] <= o[0] and o[1] <= l[1]
                        for o in loops)]
    return [[ins for _, ins in lines[a:b + 1] if ins] for a, b in inner]


def mca(body, cpu, llvm_mca):
    run = subprocess.run([llvm_mca, "-mcpu=" + cpu, "-iterations=100"],
                         input="\n".join(body) + "\n", capture_output=True,
                         text=True)
    if run.returncode != 0:
        return None
    cycles = re.search(r"Total Cycles:\s*(\d+)", run.stdout)
    rthroughput = re.search(r"Block RThroughput:\s*([\d.]+)", run.stdout)
    return (int(cycles.group(1)) / 100 if cycles else float("nan"),
            float(rthroughput.group(1)) if rthroughput else float("nan"))


def schedule_flags(name):
    if name == "auto":
        return []
    if name == "base":
        return ["--interleave=1", "--affine-outputs=1", "--affine-orders=0"]
    i, b, k = name.split("/")
    return ["--interleave=" + i, "--affine-outputs=" + b,
            "--affine-orders=" + k]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--build", default="build")
    parser.add_argument("--layers", default="1,24,24,24,1")
    parser.add_argument("--activation", default="tanh")
    parser.add_argument("--order", type=int, default=9)
    parser.add_argument("--dtype", default="f32", choices=["f32", "f64"])
    parser.add_argument("--cpu", default="znver4")
    parser.add_argument("--schedules", default="base,auto")
    parser.add_argument("--fma-pipes", type=float, default=None,
                        help="full-width FMAs per cycle (default: 1 for "
                        "znver4's 512-bit FMAs, else 2)")
    parser.add_argument("--load-ports", type=float, default=None,
                        help="full-width loads per cycle (default: 1 for "
                        "znver4's 512-bit loads, 2 on 256-bit x86, else 2)")
    parser.add_argument("--llvm-mca", default=shutil.which("llvm-mca-22")
                        or shutil.which("llvm-mca") or "llvm-mca")
    args = parser.parse_args()
    pipes = args.fma_pipes or (1 if args.cpu == "znver4" else 2)
    ports = args.load_ports or (1 if args.cpu == "znver4" else 2)

    print(f"llvm-mca ({args.llvm_mca}, -mcpu={args.cpu}): {args.layers} "
          f"{args.activation}, order {args.order}, {args.dtype}; FMA bound = "
          f"FMAs / {pipes:g}, load bound = loads / {ports:g} per cycle; "
          "cycles per loop iteration (or per call of a jet function) over "
          "100 iterations with loop-carried dependencies\n")
    print("| schedule | where | instrs | FMAs | other FP | loads | stores | "
          "FMA bound | load bound | mca RThroughput | mca cycles/iter | "
          "FMA share of cycles | binds |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for schedule in args.schedules.split(","):
        with tempfile.NamedTemporaryFile(suffix=".s") as asm_file:
            run = subprocess.run(
                [args.build + "/bin/ntp-compile", "--layers", args.layers,
                 "--activation", args.activation, "--order", str(args.order),
                 "--dtype", args.dtype, "--target-cpu=" + args.cpu,
                 "--emit=asm", "-o", asm_file.name] +
                schedule_flags(schedule), capture_output=True, text=True)
            if run.returncode != 0:
                sys.exit("schedule_mca.py: error: ntp-compile failed: " +
                         run.stderr.strip())
            asm = open(asm_file.name).read()
        for name, lines in functions(asm).items():
            if name.endswith("manifest") or name.endswith("backward_tiles"):
                continue
            if name.startswith("__ntp"):
                bodies = [("jet function " + name.replace("__ntp_", ""),
                           [ins for _, ins in lines if ins])]
            else:
                loops = innermost_loops(lines)
                # The loops with FMAs, heaviest first (the affine layers).
                loops = [l for l in loops if any(FMA.search(i) for i in l)]
                loops.sort(key=lambda l: -sum(bool(FMA.search(i)) for i in l))
                bodies = [(f"{name.replace('ntp_kernel_', '')} loop {n}", l)
                          for n, l in enumerate(loops[:3])]
            for where, body in bodies:
                fmas = sum(1 for i in body if FMA.search(i))
                other = sum(1 for i in body if MUL_ADD.search(i))
                loads = sum(1 for i in body
                            if "(" in i.split(",")[0] or
                            ("mov" in i and "(" in i.rsplit(",", 1)[0]
                             and "(" not in i.rsplit(",", 1)[-1]) or
                            i.startswith("vbroadcast") and "(" in i)
                stores = sum(1 for i in body if "mov" in i and "(" in
                             i.rsplit(",", 1)[-1])
                info = mca(body, args.cpu, args.llvm_mca)
                if not info:
                    continue
                cycles, rthroughput = info
                fma_bound = fmas / pipes
                load_bound = loads / ports
                binds = ("FMA" if cycles <= 1.15 * fma_bound else
                         "loads" if cycles <= 1.15 * load_bound else
                         "FP pipes" if cycles <= 1.15 * rthroughput else
                         "dependency chains")
                print(f"| {schedule} | {where} | {len(body)} | {fmas} | "
                      f"{other} | {loads} | {stores} | {fma_bound:.1f} | "
                      f"{load_bound:.1f} | {rthroughput:.1f} | {cycles:.1f} | "
                      f"{100 * fma_bound / cycles:.0f}% | {binds} |")


if __name__ == "__main__":
    main()
