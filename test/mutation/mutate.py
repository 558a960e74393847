#!/usr/bin/env python3
# ===- test/mutation/mutate.py - Mutation test of the compiler front end ---===#
#
# Usage: mutate.py --bin <dir with ntp-opt, ntp-compile> [--count N]
#                  [--seed S] [--timeout T] [--jobs J] [--keep DIR]
#                  [--list] [--only NAME]
#
# Takes the repo's .mlir files (test/**/*.mlir and examples/**/*.mlir, each
# split at "// -----" like -split-input-file), derives --count mutants from
# them with a fixed seed (byte flips, token deletions and duplications,
# numbers replaced by 0, -1, huge values, INT64_MAX and beyond, keywords and
# attribute names swapped for others of the dialect), and feeds each to
#   ntp-opt <mutant>                    (parse, verify, print)
#   ntp-opt -ntp-cpu-pipeline <mutant>
#   ntp-compile --emit=mlir <mutant>
# Diagnostics and nonzero exits are the expected outcome for bad input. A
# crash is: a signal or an exit code >= 128, or output with "LLVM ERROR",
# "Assertion", "PLEASE submit a bug report" or "Stack dump"; a hang is a run
# past --timeout seconds. Each fails the test, unless it matches a known
# crash: known_crashes/<name>.mlir (an input that shows it) with
# known_crashes/<name>.txt (first line: the tool and arguments, second: a
# substring of the output that identifies the crash). Known crashes are
# expected failures, listed by name on every run; one that no longer crashes
# is reported as fixed (remove its files). --keep DIR writes every new
# crash's input and output there, named for the new known_crashes entry.
#
# Exit status: 0 when every crash and hang is a known one, 1 otherwise.
#
# ===----------------------------------------------------------------------===#
import argparse
import concurrent.futures
import hashlib
import os
import random
import re
import resource
import signal
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
KNOWN_DIR = os.path.join(HERE, "known_crashes")

CRASH_MARKERS = ("LLVM ERROR", "Assertion", "PLEASE submit a bug report",
                 "Stack dump", "AddressSanitizer", "runtime error:")

# Numbers a mutation puts in place of one in the input.
NUMBERS = ["0", "-1", "1", "2", "16", "17", "64", "1024", "65536",
           "2147483647", "2147483648", "-2147483648", "4294967296",
           "9223372036854775807", "9223372036854775808",
           "-9223372036854775808", "18446744073709551616",
           "99999999999999999999999999999999", "1.0e308", "1e-320", "-0.0",
           "0x7fffffffffffffff", "nan", "inf"]
# Words swapped for one another: the dialect's keywords, activations,
# types, attribute names and ops, and near-misses.
WORDS = ["ntp.mlp", "ntp.seed", "ntp.affine", "ntp.activate",
         "ntp.store_jet", "ntp.load_cotangent", "ntp.affine_vjp",
         "ntp.activate_vjp", "ntp.seed_vjp", "layers", "activation", "order",
         "live_orders", "formulation", "outline", "tile", "tanh", "sigmoid",
         "sin", "identity", "exp", "softplus", "relu", "f32", "f64", "f16",
         "bf16", "i32", "i64", "index", "memref", "vector", "tensor",
         "func.func", "func.return", "scf.for", "arith.constant", "affine",
         "auto", "taylor", "faa_di_bruno", "none", "true", "false", "unit",
         "dense", "array", "@pinn", "%arg0", "%0", "#ntp.kernel", "loc",
         "attributes", "to", "step", "iter_args", "x", "?"]
TOKEN = re.compile(r'"(?:[^"\\\n]|\\.)*"|[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?'
                   r'|[%@#^!]?[A-Za-z_][\w.$-]*|->|::|\S')
NUMBER = re.compile(r'^[-+]?\d')


def seeds():
    """(name, text) of every chunk of every .mlir file, in a fixed order."""
    files = []
    for top in ("test", "examples"):
        for dirpath, dirnames, filenames in os.walk(os.path.join(ROOT, top)):
            dirnames.sort()
            # Our own outputs are not seeds.
            if os.path.abspath(dirpath).startswith(HERE):
                continue
            files += [os.path.join(dirpath, f) for f in sorted(filenames)
                      if f.endswith(".mlir")]
    out = []
    for path in files:
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
        rel = os.path.relpath(path, ROOT)
        for i, chunk in enumerate(re.split(r"^// -----\s*$", text,
                                           flags=re.M)):
            if chunk.strip():
                out.append((f"{rel}#{i}", chunk))
    return out


def mutate_once(rng, text):
    tokens = [m for m in TOKEN.finditer(text)]
    kind = rng.choice(["flip", "delete", "duplicate", "number", "number",
                       "word", "word", "swap", "line"])
    if not tokens or kind == "flip":
        if not text:
            return "x", "flip"
        data = bytearray(text.encode())
        at = rng.randrange(len(data))
        data[at] = rng.choice([data[at] ^ (1 << rng.randrange(8)),
                               rng.randrange(256)])
        return data.decode("utf-8", errors="replace"), "flip"
    if kind == "number":
        numbers = [m for m in tokens if NUMBER.match(m.group())]
        if numbers:
            m = rng.choice(numbers)
            return (text[:m.start()] + rng.choice(NUMBERS) + text[m.end():],
                    "number")
        kind = "word"
    m = rng.choice(tokens)
    if kind == "delete":
        return text[:m.start()] + text[m.end():], "delete"
    if kind == "duplicate":
        return text[:m.end()] + " " + m.group() + text[m.end():], "duplicate"
    if kind == "word":
        words = [t for t in tokens if not NUMBER.match(t.group())
                 and len(t.group()) > 1]
        m = rng.choice(words or tokens)
        return text[:m.start()] + rng.choice(WORDS) + text[m.end():], "word"
    if kind == "swap":
        n = rng.choice(tokens)
        a, b = sorted([m, n], key=lambda t: t.start())
        if a.start() == b.start():
            return text, "swap"
        return (text[:a.start()] + b.group() + text[a.end():b.start()] +
                a.group() + text[b.end():], "swap")
    lines = text.splitlines(keepends=True)
    at = rng.randrange(len(lines))
    if rng.random() < 0.5:
        return "".join(lines[:at] + lines[at + 1:]), "line-delete"
    return "".join(lines[:at + 1] + lines[at:]), "line-duplicate"


def mutants(count, seed):
    rng = random.Random(seed)
    pool = seeds()
    out = []
    while len(out) < count:
        name, text = rng.choice(pool)
        kinds = []
        for _ in range(rng.choice([1, 1, 2, 3])):
            text, kind = mutate_once(rng, text)
            kinds.append(kind)
        digest = hashlib.sha1(text.encode()).hexdigest()[:12]
        out.append({"name": f"m{len(out):04d}-{digest}", "source": name,
                    "kinds": kinds, "text": text})
    return out


def commands(bindir, path):
    opt = os.path.join(bindir, "ntp-opt")
    compile_ = os.path.join(bindir, "ntp-compile")
    return [[opt, path], [opt, "-ntp-cpu-pipeline", path],
            [compile_, "--emit=mlir", path, "-o", "-"]]


def limit_resources():
    # Bounded memory, so a mutant asking for a huge network fails (bad_alloc,
    # a crash) rather than taking the machine; no core files.
    resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    os.setsid()


def run(cmd, timeout):
    """(verdict, rc, output): verdict is ok, crash or hang."""
    try:
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT,
                             preexec_fn=limit_resources)
        try:
            out, _ = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            out, _ = p.communicate()
            return "hang", None, out.decode(errors="replace")
    except OSError as e:
        return "crash", None, f"cannot run {cmd[0]}: {e}"
    text = out.decode(errors="replace")
    rc = p.returncode
    if rc < 0 or rc >= 128 or any(m in text for m in CRASH_MARKERS):
        return "crash", rc, text
    return "ok", rc, text


def describe(rc):
    if rc is None:
        return "timeout"
    if rc < 0:
        try:
            return signal.Signals(-rc).name
        except ValueError:
            return f"signal {-rc}"
    return f"exit {rc}"


def load_known():
    known = []
    if not os.path.isdir(KNOWN_DIR):
        return known
    for f in sorted(os.listdir(KNOWN_DIR)):
        if not f.endswith(".txt"):
            continue
        name = f[:-4]
        with open(os.path.join(KNOWN_DIR, f)) as fh:
            lines = fh.read().splitlines()
        known.append({"name": name, "args": lines[0].split(),
                      "marker": lines[1],
                      "input": os.path.join(KNOWN_DIR, name + ".mlir")})
    return known


def tool_args(cmd):
    """The tool's name and its options, without paths."""
    return [os.path.basename(cmd[0])] + [
        a for a in cmd[1:] if a.startswith("-") and a not in ("-", "-o")]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--count", type=int, default=250)
    ap.add_argument("--seed", type=int, default=20261129)
    ap.add_argument("--timeout", type=float, default=10.0)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--keep")
    ap.add_argument("--list", action="store_true",
                    help="print the mutants' names and sources and exit")
    ap.add_argument("--only", help="run only the mutant of this name")
    args = ap.parse_args()

    work = mutants(args.count, args.seed)
    if args.list:
        for m in work:
            print(m["name"], m["source"], ",".join(m["kinds"]))
        return 0
    if args.only:
        work = [m for m in work if m["name"] == args.only]
    known = load_known()

    tmp = tempfile.mkdtemp(prefix="ntp-mutation-")
    jobs = []
    for m in work:
        path = os.path.join(tmp, m["name"] + ".mlir")
        with open(path, "w", encoding="utf-8") as f:
            f.write(m["text"])
        for cmd in commands(args.bin, path):
            jobs.append((m, cmd))
    # The known crashes, each with its own command: still crashing?
    for k in known:
        cmd = ([os.path.join(args.bin, k["args"][0])] + k["args"][1:] +
               [k["input"]])
        if k["args"][0] == "ntp-compile":
            cmd += ["-o", "-"]
        jobs.append((k, cmd))

    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        results = list(pool.map(lambda j: run(j[1], args.timeout), jobs))

    failures, expected, fixed = [], [], []
    known_seen = set()
    for (item, cmd), (verdict, rc, out) in zip(jobs, results):
        if item in known:
            if verdict == "ok":
                fixed.append(item["name"])
            continue
        if verdict == "ok":
            continue
        match = next((k for k in known
                      if k["args"] == tool_args(cmd) and k["marker"] in out),
                     None)
        if match:
            expected.append((item["name"], match["name"]))
            known_seen.add(match["name"])
            continue
        failures.append((item, cmd, verdict, rc, out))

    runs = len(jobs)
    print(f"ntp-mutation-test: {len(work)} mutants (seed {args.seed}), "
          f"{runs} runs, {len(failures)} new crash(es)/hang(s), "
          f"{len(expected)} known, {len(known)} known crash(es) listed")
    for k in known:
        state = "FIXED, remove it" if k["name"] in fixed else "still crashes"
        print(f"  XFAIL known crash {k['name']}: {' '.join(k['args'])} "
              f"({state})")
    for name, kname in expected:
        print(f"  XFAIL {name}: matches known crash {kname}")
    for item, cmd, verdict, rc, out in failures:
        lines = [l for l in out.splitlines()
                 if any(mk in l for mk in CRASH_MARKERS) or "error" in l]
        print(f"FAIL {item['name']} ({item['source']}, "
              f"{'+'.join(item['kinds'])}): {verdict} ({describe(rc)}) in "
              f"{' '.join(tool_args(cmd))}")
        for l in (lines or out.splitlines())[:6]:
            print("    " + l[:300])
        if args.keep:
            os.makedirs(args.keep, exist_ok=True)
            base = os.path.join(args.keep, item["name"] + "-" +
                                tool_args(cmd)[0])
            with open(base + ".mlir", "w", encoding="utf-8") as f:
                f.write(item["text"])
            with open(base + ".out", "w", encoding="utf-8") as f:
                f.write(" ".join(cmd) + "\n" + describe(rc) + "\n" + out)
    for name in os.listdir(tmp):
        os.unlink(os.path.join(tmp, name))
    os.rmdir(tmp)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
