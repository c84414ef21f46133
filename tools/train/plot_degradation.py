#!/usr/bin/python3
"""Plot the degradation experiment: training and test error per epoch of plain-20/56 and
ResNet-20/56, from the JSON records train_fashion.py writes, in the style of the ResNet
paper's Figure 6 (plain nets dashed, residual nets solid; one colour per depth).

    /usr/bin/python3 tools/train/plot_degradation.py examples/models \\
        examples/models/degradation_fashion.png

Needs Debian's python3-matplotlib.
"""
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")  # no display: write the file only
import matplotlib.pyplot as plt

NETS = [("plain20", "plain-20"), ("plain56", "plain-56"),
        ("resnet20", "ResNet-20"), ("resnet56", "ResNet-56")]
COLOURS = {20: "tab:orange", 56: "tab:red"}


def main():
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    models, out = sys.argv[1], sys.argv[2]
    records = {}
    for arch, _ in NETS:
        with open(os.path.join(models, f"{arch}_fashion.json")) as f:
            records[arch] = json.load(f)
    epochs = {r["epochs"] for r in records.values()}
    if len(epochs) != 1:
        raise SystemExit(f"the records have different epoch counts: {sorted(epochs)}")
    r0 = records["plain20"]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    for ax, key, title in [(axes[0], "train_error", "training error"),
                           (axes[1], "test_error", "test error")]:
        for arch, name in NETS:
            rec = records[arch]
            x = [h["epoch"] for h in rec["history"]]
            y = [100 * h[key] for h in rec["history"]]
            ax.plot(x, y, "--" if arch.startswith("plain") else "-", marker="o", markersize=3,
                    color=COLOURS[rec["layers"]], label=name)
        ax.set_title(title)
        ax.set_xlabel("epoch")
        ax.set_xticks(range(1, r0["epochs"] + 1))
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("error (%)")
    axes[0].legend()
    fig.suptitle(f"Fashion-MNIST, {r0['train_images']} training images, {r0['epochs']} epochs, "
                 f"batch {r0['batch']}, lr {r0['lr']} / 10 at 1/2 and 3/4 (plain dashed, "
                 f"ResNet solid)", fontsize=9)
    fig.tight_layout()
    fig.savefig(out, dpi=100)


if __name__ == "__main__":
    main()
