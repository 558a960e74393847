#!/usr/bin/env python3
"""Which resource binds an ntp CPU kernel: its instruction mix and llvm-mca.

Compiles a network with ntp-compile --emit=asm for one CPU, splits the
assembly into functions (the entry points and the outlined activation-jet
functions), counts each function's instructions by kind (FMA, other
arithmetic, loads, stores, broadcasts, shuffles, ...), and runs llvm-mca on
its straight-line body for the same CPU: the block reciprocal throughput
(cycles per pass through the body, as LLVM's scheduling model sees it), the
FMA-bound lower bound (FMAs / FMA pipes), and the most loaded execution
resource. A kernel whose busiest resource is not the FMA pipes is bound by
something else (loads, shuffles, the dependency chains: llvm-mca's total
cycles above its throughput bound).

  benchmarks/instruction_mix.py --build build --layers 1,24,24,24,1 \\
      --order 9 --dtype f32 --cpu znver4

Prints a markdown table; llvm-mca is an estimate from LLVM's model, not a
measurement (loops are seen as straight-line code, calls as single
instructions).
"""
import argparse
import collections
import re
import shutil
import subprocess
import sys
import tempfile

KINDS = [
    ("fma", re.compile(r"^v?f(n)?m(add|sub)(132|213|231)")),
    ("mul", re.compile(r"^v?mul[sp][sd]")),
    ("add/sub", re.compile(r"^v?(add|sub)[sp][sd]")),
    ("div/sqrt", re.compile(r"^v?(div|sqrt|rcp|rsqrt)")),
    ("min/max/cmp/blend", re.compile(r"^v?(min|max|cmp|blend|and|or|xor|andn)p?[sd]")),
    ("broadcast", re.compile(r"^vbroadcast|^vpbroadcast")),
    ("shuffle/permute", re.compile(r"^v?(shuf|perm|unpck|insert|extract|pshuf|palign|valign)")),
    ("convert", re.compile(r"^v?cvt")),
    ("move", re.compile(r"^v?mov")),
    ("call", re.compile(r"^call")),
    ("branch", re.compile(r"^j")),
]


def kind_of(mnemonic, operands):
    for name, pattern in KINDS:
        if pattern.search(mnemonic):
            if name == "move":
                # A move from memory is a load, to memory a store.
                parts = operands.rsplit(",", 1)
                if len(parts) == 2 and "(" in parts[1]:
                    return "store"
                if "(" in operands:
                    return "load"
                return "reg move"
            return name
    return "other"


def functions(asm):
    """name -> list of instruction lines (no directives, no labels)."""
    result, current = collections.OrderedDict(), None
    for line in asm.splitlines():
        stripped = line.strip()
        m = re.match(r"^([A-Za-z_.$][\w.$]*):", stripped)
        if m and not stripped.startswith(".L"):
            current = m.group(1)
            result[current] = []
            continue
        if current is None or not stripped or stripped.startswith(
                (".", "#")) or stripped.endswith(":"):
            continue
        if stripped.startswith(".cfi") or stripped.startswith(".size"):
            continue
        result[current].append(stripped.split("#")[0].rstrip())
    return {k: v for k, v in result.items() if v}


def mca(body, cpu, llvm_mca):
    text = "\n".join(body) + "\n"
    run = subprocess.run([llvm_mca, "-mcpu=" + cpu, "-iterations=10",
                          "-resource-pressure", "--timeline=false"],
                         input=text, capture_output=True, text=True)
    if run.returncode != 0:
        return None
    out = run.stdout
    info = {}
    m = re.search(r"Block RThroughput:\s*([\d.]+)", out)
    info["rthroughput"] = float(m.group(1)) if m else float("nan")
    m = re.search(r"Total Cycles:\s*(\d+)", out)
    info["cycles_per_iter"] = int(m.group(1)) / 10 if m else float("nan")
    # Resource pressure per iteration: a header line of resource ids, then
    # one line of numbers.
    m = re.search(r"Resource pressure per iteration:\n(.*)\n(.*)\n", out)
    resources = {}
    if m:
        names = re.findall(r"\[(\w+(?:\.\d+)?)\]", m.group(1))
        values = m.group(2).split()
        for name, value in zip(names, values):
            try:
                resources[name] = float(value)
            except ValueError:
                resources[name] = 0.0
    names = dict(re.findall(r"\[(\w+(?:\.\d+)?)\]\s*-\s*(\S+)", out))
    info["pressure"] = {names.get(k, k): v for k, v in resources.items()}
    return info


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--build", default="build")
    parser.add_argument("--layers", default="1,24,24,24,1")
    parser.add_argument("--activation", default="tanh")
    parser.add_argument("--order", type=int, default=9)
    parser.add_argument("--dtype", default="f32", choices=["f32", "f64"])
    parser.add_argument("--cpu", default="znver4",
                        help="LLVM CPU name (not 'native': llvm-mca needs it)")
    parser.add_argument("--fma-pipes", type=int, default=None,
                        help="full-width FMAs per cycle per core of --cpu (the "
                        "bound's divisor; default: 1 for znver4, whose "
                        "512-bit FMAs take both 256-bit pipes, else 2)")
    parser.add_argument("--llvm-mca", default=shutil.which("llvm-mca-22")
                        or shutil.which("llvm-mca") or "llvm-mca")
    args = parser.parse_args()
    if args.fma_pipes is None:
        args.fma_pipes = 1 if args.cpu == "znver4" else 2

    with tempfile.NamedTemporaryFile(suffix=".s") as asm_file:
        compile_ = subprocess.run(
            [args.build + "/bin/ntp-compile", "--layers", args.layers,
             "--activation", args.activation, "--order", str(args.order),
             "--dtype", args.dtype, "--target-cpu=" + args.cpu, "--emit=asm",
             "-o", asm_file.name], capture_output=True, text=True)
        if compile_.returncode != 0:
            sys.exit("instruction_mix.py: error: ntp-compile failed: " +
                     compile_.stderr.strip())
        asm = open(asm_file.name).read()

    print(f"Instruction mix: {args.layers} {args.activation}, order "
          f"{args.order}, {args.dtype}, code for {args.cpu} "
          f"(llvm-mca: {args.llvm_mca}, an estimate from LLVM's model)\n")
    columns = ["fma", "mul", "add/sub", "load", "store", "broadcast",
               "shuffle/permute", "reg move", "other"]
    print("| function | instrs | " + " | ".join(columns) +
          " | FMA bound (cyc) | mca RThroughput (cyc) | mca cycles/pass | "
          "busiest resource |")
    print("|---" * (len(columns) + 6) + "|")
    for name, body in functions(asm).items():
        counts = collections.Counter()
        for line in body:
            parts = line.split(None, 1)
            counts[kind_of(parts[0], parts[1] if len(parts) > 1 else "")] += 1
        folded = collections.Counter()
        for k, v in counts.items():
            folded[k if k in columns else "other"] += v
        info = mca(body, args.cpu, args.llvm_mca) or {}
        pressure = info.get("pressure", {})
        busiest = max(pressure.items(), key=lambda kv: kv[1],
                      default=("n/a", 0))
        print(f"| {name} | {len(body)} | " +
              " | ".join(str(folded[c]) for c in columns) +
              f" | {counts['fma'] / args.fma_pipes:.0f}"
              f" | {info.get('rthroughput', float('nan')):.0f}"
              f" | {info.get('cycles_per_iter', float('nan')):.0f}"
              f" | {busiest[0]} ({busiest[1]:.0f}) |")


if __name__ == "__main__":
    main()
