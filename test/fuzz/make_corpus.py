#!/usr/bin/env python3
# ===- test/fuzz/make_corpus.py - Writes the fuzzers' seed corpora ---------===#
#
# Usage: make_corpus.py <ntp-compile> [<out dir>]   (default: this directory)
#
# Writes <out>/{manifest,cpu_artifact,cuda_memory}/corpus/: valid manifests
# of CPU and CUDA kernels (from real ntp-compile artifacts and by hand),
# sealed artifacts of tiny kernels (a CPU shared object, stripped and
# resealed; CUDA artifacts with PTX and cubin images), and edge cases (the
# empty input, ABI version 1 and 3, keys missing, repeated or unknown, numbers
# at and past their limits, a truncated trailer, a bad checksum). The corpora
# are committed; rerun this only to change them. Deterministic: the same
# compiler gives the same files.
#
# ===----------------------------------------------------------------------===#
import os
import shutil
import struct
import subprocess
import sys
import tempfile

MAGIC = b"NTPARTF\n"
TRAILER = 40
ABI = 2


def fnv1a(data, state=0xCBF29CE484222325):
    for b in data:
        state ^= b
        state = (state * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return state


def seal(payload, manifest, abi=ABI):
    head = struct.pack("<QQQII", len(payload), len(manifest), 0, TRAILER, abi)
    trailer = head + MAGIC
    s = fnv1a(trailer, fnv1a(manifest, fnv1a(payload)))
    trailer = trailer[:16] + struct.pack("<Q", s) + trailer[24:]
    return payload + manifest + trailer


def unseal(artifact):
    assert artifact.endswith(MAGIC)
    p, m = struct.unpack_from("<QQ", artifact, len(artifact) - TRAILER)
    return artifact[:p], artifact[p:p + m]


def compile_(ntp_compile, tmp, name, args):
    out = os.path.join(tmp, name)
    subprocess.run([ntp_compile, *args, "-o", out], check=True)
    with open(out, "rb") as f:
        return f.read()


def manifest_text(fields):
    return ("ntp-kernel-manifest\n" +
            "".join(f"{k}={v}\n" for k, v in fields)).encode()


def replace(text, key, value):
    """The manifest with key's line set to value (None: removed)."""
    lines = []
    for line in text.decode().splitlines(keepends=True):
        if line.startswith(key + "="):
            if value is None:
                continue
            line = f"{key}={value}\n"
        lines.append(line)
    return "".join(lines).encode()


def main():
    ntp_compile = sys.argv[1]
    out = sys.argv[2] if len(sys.argv) > 2 else os.path.dirname(
        os.path.abspath(__file__))
    dirs = {d: os.path.join(out, d, "corpus")
            for d in ("manifest", "cpu_artifact", "cuda_memory")}
    for d in dirs.values():
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)

    def write(kind, name, data):
        with open(os.path.join(dirs[kind], name), "wb") as f:
            f.write(data)

    with tempfile.TemporaryDirectory() as tmp:
        cpu = compile_(ntp_compile, tmp, "cpu.so",
                       ["--layers=1,2,1", "--activation=tanh", "--order=1",
                        "--dtype=f32", "--target-cpu=x86-64-v3"])
        cpu64 = compile_(ntp_compile, tmp, "cpu64.so",
                         ["--layers=2,3,2", "--activation=softplus",
                          "--order=3", "--dtype=f64", "--tile=4",
                          "--target-cpu=x86-64"])
        ptx = compile_(ntp_compile, tmp, "ptx.ntp",
                       ["--layers=1,2,1", "--activation=tanh", "--order=1",
                        "--dtype=f32", "--target=nvptx", "--chip=sm_90",
                        "--gpu-format=ptx"])
        lanes = compile_(ntp_compile, tmp, "lanes.ntp",
                         ["--layers=2,3,1", "--activation=sin", "--order=2",
                          "--dtype=f64", "--target=nvptx", "--chip=sm_80",
                          "--gpu-mapping=lanes", "--gpu-format=ptx"])
        cubin = None
        if shutil.which("ptxas") or os.path.exists("/usr/local/cuda/bin/ptxas"):
            try:
                cubin = compile_(ntp_compile, tmp, "cubin.ntp",
                                 ["--layers=1,1", "--activation=identity",
                                  "--order=0", "--dtype=f32", "--target=nvptx",
                                  "--chip=sm_90", "--gpu-format=cubin"])
            except subprocess.CalledProcessError:
                cubin = None

        # The CPU shared object stripped of its static symbols and debug
        # sections (a smaller seed; the dynamic symbols the loader needs
        # stay), resealed.
        payload, cpu_manifest = unseal(cpu)
        so = os.path.join(tmp, "payload.so")
        with open(so, "wb") as f:
            f.write(payload)
        subprocess.run(["strip", "--strip-all", so], check=True)
        with open(so, "rb") as f:
            stripped = f.read()
        cpu_small = seal(stripped, cpu_manifest)
        _, cpu64_manifest = unseal(cpu64)
        ptx_payload, ptx_manifest = unseal(ptx)
        _, lanes_manifest = unseal(lanes)

    manifests = {
        "cpu_f32_backward": cpu_manifest,
        "cpu_f64_tile4": cpu64_manifest,
        "cuda_ptx_sample": ptx_manifest,
        "cuda_ptx_lanes": lanes_manifest,
    }
    if cubin:
        manifests["cuda_cubin"] = unseal(cubin)[1]
    nb = replace(replace(cpu_manifest, "backward", "0"),
                 "workspace_per_tile", "0")
    manifests["cpu_forward_only"] = nb
    manifests["cpu_all_features"] = replace(
        cpu_manifest, "cpu_features",
        "sse4.2,avx,avx2,fma,bmi,bmi2,avx512f,avx512dq,avx512cd,avx512bw,"
        "avx512vl,avx512ifma,avx512vbmi,avx512vnni,avx512bf16,avx512fp16")
    manifests["cpu_no_features"] = replace(cpu_manifest, "cpu_features", "")
    # A multi-variant artifact's manifest (ntp-compile --target-cpu=a,b).
    variants = ("cpu_variants=x86-64-v3:sse4.2,avx,avx2,fma,bmi,bmi2;"
                "x86-64:\n").encode()
    manifests["cpu_variants"] = cpu_manifest + variants
    # Edge cases, each refused for one reason.
    edge = {
        "empty": b"",
        "magic_only": b"ntp-kernel-manifest\n",
        "abi1": replace(cpu_manifest, "abi_version", "1"),
        "abi3": replace(cpu_manifest, "abi_version", "3"),
        "missing_layers": replace(cpu_manifest, "layers", None),
        "unknown_key": cpu_manifest + b"colour=blue\n",
        "repeated_key": cpu_manifest + b"order=1\n",
        "cuda_key_on_cpu": cpu_manifest + b"chip=sm_90\n",
        "no_final_newline": cpu_manifest[:-1],
        "order_int32_max": replace(cpu_manifest, "order", "2147483647"),
        "order_int32_max_plus_1": replace(cpu_manifest, "order", "2147483648"),
        "order_negative": replace(cpu_manifest, "order", "-1"),
        "leading_zero": replace(cpu_manifest, "tile", "016"),
        "layers_int32_max": replace(replace(nb, "layers", "2147483647,1"),
                                    "num_params", "2147483648"),
        "num_params_int64_max": replace(cpu_manifest, "num_params",
                                        "9223372036854775807"),
        "num_params_overflow": replace(cpu_manifest, "num_params",
                                       "99999999999999999999"),
        "layers_huge": replace(cpu_manifest, "layers",
                               "2147483647,2147483647,2147483647,2147483647,"
                               "2147483647,2147483647"),
        "layers_zero": replace(cpu_manifest, "layers", "1,0,1"),
        "layers_trailing_comma": replace(cpu_manifest, "layers", "1,2,1,"),
        "tile_zero": replace(cpu_manifest, "tile", "0"),
        "tile_max": replace(nb, "tile", "65536"),
        "tile_max_plus_1": replace(nb, "tile", "65537"),
        "nul_byte": cpu_manifest.replace(b"tanh", b"ta\0h"),
        "crlf": cpu_manifest.replace(b"\n", b"\r\n"),
        "cuda_block_1025": replace(ptx_manifest, "block_size", "1025"),
        "cuda_lanes_mismatch": replace(lanes_manifest, "samples_per_block",
                                       "3"),
        "cuda_chip_wrap": replace(ptx_manifest, "chip", "sm_4294967386"),
        "cuda_chip_a": replace(ptx_manifest, "chip", "sm_90a"),
        "cuda_backward": replace(ptx_manifest, "backward", "1"),
        "cuda_image_zero": replace(ptx_manifest, "image_bytes", "0"),
        "device_gpu": replace(cpu_manifest, "device", "gpu"),
        "feature_twice": replace(cpu_manifest, "cpu_features", "avx,avx"),
        "feature_unknown": replace(cpu_manifest, "cpu_features", "sse9"),
        "name_bad": replace(cpu_manifest, "name", "a b"),
        "cpu_variants_one": cpu_manifest + b"cpu_variants=x86-64-v3:sse4.2,"
        b"avx,avx2,fma,bmi,bmi2\n",
        "cpu_variants_twice": cpu_manifest + variants.replace(b"x86-64:",
                                                              b"x86-64-v3:"),
        "cpu_variants_truncated": cpu_manifest + variants[:-12] + b"\n",
    }
    for name, text in {**manifests, **edge}.items():
        write("manifest", name, text)

    # Artifacts: valid ones, then damaged ones. Both artifact fuzzers get
    # both kinds: the CPU one must skip CUDA artifacts, the memory loader
    # must refuse CPU ones.
    artifacts = {
        "cpu_tiny_stripped": cpu_small,
        "cuda_ptx_sample": ptx,
        "cuda_ptx_lanes": lanes,
        "cpu_bad_checksum": cpu_small[:-24] + bytes(8) + cpu_small[-16:],
        "cpu_truncated": cpu_small[:len(cpu_small) // 2],
        "cpu_trailer_only": cpu_small[-TRAILER:],
        "cpu_abi3": seal(stripped, replace(cpu_manifest, "abi_version", "3"),
                     abi=3),
        "cpu_abi1_bare": stripped[:4096] + b"ntp-kernel-manifest\n"
                         b"abi_version=1\n",
        "cpu_not_elf": seal(b"#!/bin/sh\necho hi\n", cpu_manifest),
        "cpu_elf_header_only": seal(stripped[:64], cpu_manifest),
        "cpu_manifest_lies": seal(stripped, replace(cpu_manifest, "order",
                                                    "7")),
        "cuda_ptx_image_size_lies": seal(ptx_payload, replace(
            ptx_manifest, "image_bytes", str(len(ptx_payload) + 1))),
        "cuda_ptx_sm_100": seal(ptx_payload, replace(ptx_manifest, "chip",
                                                     "sm_100")),
        "cuda_legacy_v1": b"ntp-cuda-artifact\n" + ptx_manifest +
                          b"end-manifest\n" + ptx_payload[:256],
        "cuda_trailer_sizes_overflow": ptx[:-TRAILER] + struct.pack(
            "<QQ", 0xFFFFFFFFFFFFFFFF, 0xFFFFFFFFFFFFFFFF) + ptx[-24:],
        "empty": b"",
    }
    if cubin:
        artifacts["cuda_cubin"] = cubin
    for name, data in artifacts.items():
        write("cpu_artifact", name, data)
        write("cuda_memory", name, data)


if __name__ == "__main__":
    main()
