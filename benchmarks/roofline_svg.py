#!/usr/bin/env python3
"""A roofline-style plot of ntp-bench tables, as SVG (no matplotlib).

Reads the markdown tables ntp-bench prints (one file per network, any
--schedules), and draws, per dtype, GFLOP/s of the forward (solid) and of
the training step (dashed) against the order, one colour per network and
schedule, under two ceilings: the FMA peak (the idle machine's, given with
--peak-f32/--peak-f64, and the peak ntp-bench measured in the same run) and
the memory bound (--bandwidth GB/s times the arithmetic intensity of the
compulsory traffic: per sample, the input point and the jet written,
(d + (n + 1) q) values; weights stay in cache).

  benchmarks/roofline_svg.py --out benchmarks/results/schedule/roofline \\
      results/ntp_bench_1,24,24,24,1.txt ...
"""
import argparse
import math
import re

COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
           "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]


def parse(path):
    """(layers, in-run peaks by dtype, rows), rows as dicts."""
    text = open(path).read()
    layers = re.search(r"layers (\d[\d,]*\d)", text).group(1)
    peaks = {m.group(1): float(m.group(2)) for m in re.finditer(
        r"^\| (f32|f64) \| [^|]+\| [\d.]+ \| ([\d.]+) \|$", text, re.M)}
    batch = int(re.search(r"batch (\d+)", text).group(1))
    rows = []
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 12 or cells[0] not in ("f32", "f64") or \
                not cells[1].isdigit():
            continue
        rows.append(dict(dtype=cells[0], order=int(cells[1]),
                         schedule=cells[3], fwd_us=float(cells[4]),
                         fwd=float(cells[5]), total=float(cells[8])))
    return layers, peaks, batch, rows


def svg_plot(dtype, series, peak_idle, peak_run, bound, title, path):
    width, height, left, right, top, bottom = 760, 480, 70, 250, 40, 50
    orders = sorted({o for s in series for o, _ in s["points"]})
    xmin, xmax = min(orders), max(orders)
    values = [v for s in series for _, v in s["points"]] + [peak_idle]
    ymin, ymax = 10.0, max(values) * 1.6
    pw, ph = width - left - right, height - top - bottom

    def x(o):
        return left + (o - xmin) / max(1, xmax - xmin) * pw

    def y(v):
        v = min(max(v, ymin), ymax)
        return top + ph - (math.log10(v) - math.log10(ymin)) / (
            math.log10(ymax) - math.log10(ymin)) * ph

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" '
           f'height="{height}" font-family="sans-serif" font-size="11">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="{left}" y="20" font-size="13">{title}</text>']
    for v in [10, 20, 50, 100, 200, 500, 1000, 2000, 5000]:
        if ymin <= v <= ymax:
            out.append(f'<line x1="{left}" x2="{left + pw}" y1="{y(v):.1f}" '
                       f'y2="{y(v):.1f}" stroke="#eee"/>')
            out.append(f'<text x="{left - 6}" y="{y(v) + 4:.1f}" '
                       f'text-anchor="end">{v}</text>')
    for o in orders:
        out.append(f'<text x="{x(o):.1f}" y="{top + ph + 16}" '
                   f'text-anchor="middle">{o}</text>')
    out.append(f'<text x="{left + pw / 2}" y="{height - 12}" '
               'text-anchor="middle">derivative order n</text>')
    out.append(f'<text x="16" y="{top + ph / 2}" text-anchor="middle" '
               f'transform="rotate(-90 16 {top + ph / 2})">GFLOP/s '
               '(log)</text>')
    out.append(f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" '
               'fill="none" stroke="black"/>')
    legend = []
    # Ceilings.
    out.append(f'<line x1="{left}" x2="{left + pw}" y1="{y(peak_idle):.1f}" '
               f'y2="{y(peak_idle):.1f}" stroke="black" stroke-width="2"/>')
    legend.append(("black", "", f"FMA peak, idle ({peak_idle:g})"))
    if peak_run:
        out.append(f'<line x1="{left}" x2="{left + pw}" '
                   f'y1="{y(peak_run):.1f}" y2="{y(peak_run):.1f}" '
                   'stroke="black" stroke-dasharray="2,3"/>')
        legend.append(("black", "2,3",
                       f"FMA peak in this run ({peak_run:g}, loaded)"))
    for layers, points in bound.items():
        path_d = " ".join(f"{'M' if i == 0 else 'L'}{x(o):.1f},{y(v):.1f}"
                          for i, (o, v) in enumerate(points))
        out.append(f'<path d="{path_d}" fill="none" stroke="#999" '
                   'stroke-width="1.5" stroke-dasharray="8,3"/>')
    if bound:
        lowest = min(v for pts in bound.values() for _, v in pts)
        legend.append(("#999", "8,3", "memory bound, compulsory traffic"))
        legend.append(("white", "", f"(>= {lowest:.0f} GFLOP/s: off the top)"
                       if lowest > ymax else f"(>= {lowest:.0f} GFLOP/s)"))
    for i, s in enumerate(series):
        colour = COLOURS[i % len(COLOURS)]
        for key, dash in (("points", ""), ("total", "5,3")):
            pts = s[key]
            path_d = " ".join(
                f"{'M' if j == 0 else 'L'}{x(o):.1f},{y(v):.1f}"
                for j, (o, v) in enumerate(pts))
            out.append(f'<path d="{path_d}" fill="none" stroke="{colour}" '
                       f'stroke-width="1.8" stroke-dasharray="{dash}"/>')
            for o, v in pts:
                out.append(f'<circle cx="{x(o):.1f}" cy="{y(v):.1f}" r="2.5" '
                           f'fill="{colour}"/>')
        legend.append((colour, "", f"{s['label']} fwd"))
        legend.append((colour, "5,3", f"{s['label']} training step"))
    for i, (colour, dash, label) in enumerate(legend):
        ly = top + 10 + 16 * i
        out.append(f'<line x1="{left + pw + 12}" x2="{left + pw + 40}" '
                   f'y1="{ly}" y2="{ly}" stroke="{colour}" stroke-width="2" '
                   f'stroke-dasharray="{dash}"/>')
        out.append(f'<text x="{left + pw + 46}" y="{ly + 4}">{label}</text>')
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("tables", nargs="+")
    parser.add_argument("--out", required=True, help="path prefix")
    parser.add_argument("--peak-f32", type=float, default=229.5)
    parser.add_argument("--peak-f64", type=float, default=116.1)
    parser.add_argument("--bandwidth", type=float, default=None,
                        help="GB/s for the memory bound (omitted if unset)")
    parser.add_argument("--title", default="")
    args = parser.parse_args()
    parsed = [parse(t) for t in args.tables]
    for dtype, peak_idle in (("f32", args.peak_f32), ("f64", args.peak_f64)):
        series, bound, peak_run = [], {}, None
        for layers, peaks, batch, rows in parsed:
            peak_run = peaks.get(dtype, peak_run)
            widths = [int(w) for w in layers.split(",")]
            size = 4 if dtype == "f32" else 8
            for schedule in dict.fromkeys(r["schedule"] for r in rows):
                sel = [r for r in rows
                       if r["dtype"] == dtype and r["schedule"] == schedule]
                if not sel:
                    continue
                series.append(dict(
                    label=f"{layers} {schedule}",
                    points=[(r["order"], r["fwd"]) for r in sel],
                    total=[(r["order"], r["total"]) for r in sel]))
                if args.bandwidth and layers not in bound:
                    pts = []
                    for r in sel:
                        flops = r["fwd"] * r["fwd_us"] * 1e3 / batch
                        traffic = (widths[0] + (r["order"] + 1) *
                                   widths[-1]) * size
                        pts.append((r["order"],
                                    args.bandwidth * flops / traffic))
                    bound[layers] = pts
        if series:
            svg_plot(dtype, series, peak_idle, peak_run, bound,
                     f"{args.title} {dtype}".strip(),
                     f"{args.out}_{dtype}.svg")


if __name__ == "__main__":
    main()
