#!/usr/bin/python3
"""Plots for the benchmark results (run with Debian's /usr/bin/python3, which has python3-matplotlib).

  /usr/bin/python3 bench/plot.py ablations bench/results/ablations.json bench/results/decoding-frontier.png
  /usr/bin/python3 bench/plot.py speed bench/results/speed.json bench/results/speed-window.png

ablations: the decoding speed/quality frontier: quality (held-out edit similarity, held-out exact match,
HumanEval single-line pass@1) against forward passes per committed token, one line per strategy family
(its speed knob varies along the line), sequential one-token-per-step decoding as the reference point.
speed: milliseconds per forward step against window length.
"""
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

STYLE = {
    "sequential": dict(color="black", marker="*", markersize=14, linestyle="none"),
    "confidence": dict(color="tab:blue", marker="o"),
    "threshold": dict(color="tab:orange", marker="s"),
    "entropy-bounded": dict(color="tab:green", marker="^"),
    "guarded": dict(color="tab:red", marker="D"),
}


def nfe_per_token(row):
    h, e = row["heldout"], row["humaneval"]
    n = h["n"] + e["n"]
    nfe = h["nfe_mean"] * h["n"] + e["nfe_mean"] * e["n"]
    tokens = h["tokens_mean"] * h["n"] + e["tokens_mean"] * e["n"]
    return nfe / tokens if tokens > 0 and n > 0 else float("nan")


def plot_ablations(data, out):
    rows = [r for r in data["rows"] if r["group"] == "decoding"]
    metrics = [
        ("held-out edit similarity", lambda r: r["heldout"]["edit_similarity"]),
        ("held-out exact match", lambda r: r["heldout"]["exact_match"]),
        ("HumanEval single-line pass@1", lambda r: r["humaneval"].get("pass_at_1", float("nan"))),
    ]
    fig, axes = plt.subplots(1, len(metrics), figsize=(5 * len(metrics), 4.2))
    for ax, (title, get) in zip(axes, metrics):
        for family, style in STYLE.items():
            pts = sorted(
                ((nfe_per_token(r), get(r), r.get("knob") or "") for r in rows if r["family"] == family),
                key=lambda p: p[0],
            )
            if not pts:
                continue
            xs, ys, knobs = zip(*pts)
            ax.plot(xs, ys, label=family, **style)
            for x, y, k in pts:
                if k:
                    ax.annotate(k.split("=")[1], (x, y), textcoords="offset points", xytext=(4, 4), fontsize=7)
        ax.set_xlabel("forward passes per committed token (lower = faster)")
        ax.set_title(title)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    h, e = data["heldout"], data["humaneval"]
    fig.suptitle(
        f"Decoding frontier, {data['models']['default']['name']}: "
        f"{h['used']} held-out + {e['used']} HumanEval single-line tasks",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(out, dpi=120)


def plot_speed(data, out):
    rows = [r for r in data["window"] if r.get("ms_median") is not None]
    fig, ax = plt.subplots(figsize=(5, 4))
    ax.plot([r["length"] for r in rows], [r["ms_median"] for r in rows], marker="o")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("window length (tokens)")
    ax.set_ylabel("ms per forward step (median)")
    ax.set_title(f"{data['model']['name']} on {data['machine']['cpu']} ({data['machine']['cores']} cores)", fontsize=9)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out, dpi=120)


def main(argv):
    if len(argv) != 4 or argv[1] not in ("ablations", "speed"):
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[2]) as fh:
        data = json.load(fh)
    (plot_ablations if argv[1] == "ablations" else plot_speed)(data, argv[3])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
