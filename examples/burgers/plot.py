#!/usr/bin/env python3
"""Plots a run of ntp-burgers like the paper's Figures 6-10.

  python3 plot.py RUN_DIR [RUN_DIR ...]

For each RUN_DIR (the --out of ntp-burgers) writes
  profile.png   Figures 7-10: U and its first k+1 derivatives (learned,
                dashed red; exact, solid blue), then the training loss and
                lambda per step (log y).
  training.png  Figure 6's first two panels (loss, |lambda - exact|) plus
                seconds per step; the autodiff/ntp runtime ratio of its
                third panel needs a PyTorch run and is not reproduced.
Needs python3-matplotlib (Debian) and numpy.
"""
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def read_csv(path):
    with open(path) as f:
        header = f.readline().strip().split(",")
        rows = [line.strip().split(",") for line in f if line.strip()]
    cols = {}
    for i, name in enumerate(header):
        vals = [r[i] for r in rows]
        try:
            cols[name] = np.array([float(v) for v in vals])
        except ValueError:
            cols[name] = np.array(vals)
    return cols


def summary(run):
    out = {}
    with open(os.path.join(run, "summary.txt")) as f:
        for line in f:
            key, _, value = line.partition(" ")
            out[key] = value.strip()
    return out


def phase_boundary(ax, hist):
    adam = np.nonzero(hist["phase"] == "adam")[0]
    if len(adam):
        ax.axvline(hist["step"][adam[-1]], color="gray", lw=0.8, ls=":")


def plot_run(run):
    hist = read_csv(os.path.join(run, "history.csv"))
    prof = read_csv(os.path.join(run, "profile.csv"))
    info = summary(run)
    k = int(info["k"])
    exact = float(info["lambda_exact"])
    nder = k + 2  # U, U', ..., U^(k+1): the rows of Figures 7-10

    fig, axes = plt.subplots(nder + 2, 1, figsize=(7, 2.2 * (nder + 2)))
    x = prof["x"]
    for i in range(nder):
        ax = axes[i]
        ax.plot(x, prof["exact%d" % i], "b-", lw=1.5, label="exact")
        ax.plot(x, prof["u%d" % i], "r--", lw=1.5, label="PINN (ntp)")
        ax.set_ylabel("U" + "'" * i if i < 4 else "U^(%d)" % i)
        if i == 0:
            ax.set_title("profile k=%d, lambda in [1/%d, 1/%d]" %
                         (k, 2 * k + 3, 2 * k + 1))
            ax.legend(loc="upper right")
    ax = axes[nder]
    ax.semilogy(hist["step"], hist["loss"], "k-", lw=1)
    phase_boundary(ax, hist)
    ax.set_ylabel("loss")
    ax = axes[nder + 1]
    ax.semilogy(hist["step"], hist["lambda"], "k-", lw=1)
    ax.axhline(exact, color="b", lw=0.8)
    phase_boundary(ax, hist)
    ax.set_ylabel("lambda")
    ax.set_xlabel("step (Adam, L-BFGS, then LM)")
    fig.tight_layout()
    fig.savefig(os.path.join(run, "profile.png"), dpi=120)
    plt.close(fig)

    fig, axes = plt.subplots(3, 1, figsize=(7, 7), sharex=True)
    step = hist["step"]
    axes[0].semilogy(step, hist["loss"], "k-", lw=1)
    axes[0].set_ylabel("loss")
    axes[1].semilogy(step, np.abs(hist["lambda"] - exact) + 1e-17, "k-", lw=1)
    axes[1].set_ylabel("|lambda - %.4g|" % exact)
    dt = np.diff(hist["seconds"])
    axes[2].plot(step[1:], dt * 1e3, "k.", ms=1)
    axes[2].set_ylabel("ms per step")
    axes[2].set_xlabel("step")
    for ax in axes:
        phase_boundary(ax, hist)
    axes[0].set_title("k=%d: lambda error %s, max|U-U*| %s, %s s" %
                      (k, info["lambda_error"], info["max_err_U"],
                       info["wall_seconds"]))
    fig.tight_layout()
    fig.savefig(os.path.join(run, "training.png"), dpi=120)
    plt.close(fig)
    print("wrote %s/profile.png, %s/training.png" % (run, run))


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    for run in sys.argv[1:]:
        plot_run(run)
