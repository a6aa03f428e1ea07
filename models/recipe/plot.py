"""Training curves of one or more runs (log.jsonl): training loss and validation masked-token accuracy vs tokens."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", nargs="+", required=True, help="run folders holding log.jsonl")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(11, 4))
    for run in args.runs:
        records = [json.loads(line) for line in open(Path(run) / "log.jsonl")]
        start = next((r for r in records if r.get("event") == "start"), {})
        label = start.get("corruption", Path(run).name)
        train = [r for r in records if "ce" in r]
        val = [r for r in records if "val_uniform15_acc" in r and "event" not in r]
        if train:
            xs = [r["tokens"] / 1e6 for r in train]
            ys = [r["ce"] for r in train]
            k = 10  # moving average over 10 log points
            smooth = [sum(ys[max(0, i - k + 1):i + 1]) / len(ys[max(0, i - k + 1):i + 1]) for i in range(len(ys))]
            ax_loss.plot(xs, smooth, label=label)
        if val:
            xs = [r["tokens"] / 1e6 for r in val]
            ax_acc.plot(xs, [r["val_uniform15_acc"] for r in val], marker="o", label=f"{label}: 15% uniform")
            ax_acc.plot(xs, [r["val_region_acc"] for r in val], marker="s", linestyle="--",
                        label=f"{label}: region infill")
    ax_loss.set_xlabel("tokens seen (M)")
    ax_loss.set_ylabel("masked-token cross-entropy (unweighted, smoothed)")
    ax_loss.legend()
    ax_acc.set_xlabel("tokens seen (M)")
    ax_acc.set_ylabel("validation masked-token accuracy")
    ax_acc.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(args.out, dpi=110)


if __name__ == "__main__":
    main()
