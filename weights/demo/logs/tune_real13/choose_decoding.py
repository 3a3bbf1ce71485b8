"""Step 0k's decoding rule (weights/demo/COMMANDS.md) applied to the grid that decoding.sh
scored: vtest 400-449 within one point of the best on precision, recall and PCK; then the
fewest people on the people-free choice set; then the lower threshold and min_joints.
Prints the decodings in the rule's order (the first is the choice, the next ones are the
fall-backs of step 4); with a model directory as second argument, writes the first into its
model.yaml.

    python weights/demo/logs/tune_real13/choose_decoding.py OUT [MODEL_DIR]
"""

import json
import re
import sys
from pathlib import Path


def decoding(name: str, result: dict | None = None) -> dict[str, str]:
    """{"threshold": ..., "min_joints": ..., "duplicate_frac": ...} of a grid variant: its
    result's "decoding" (written since session 15), else parsed from its name
    ("threshold 0.55, min_joints 4, duplicate_frac 0.2")."""
    if result and "decoding" in result:
        return {k: f"{v:g}" for k, v in result["decoding"].items()}
    return dict(p.strip().split(" ") for p in name.split(","))


def apply(parts: dict[str, str], model_dir: str) -> None:
    """Write decoding ``parts`` into ``model_dir``/model.yaml (decode.threshold,
    association.min_joints, association.duplicate_frac)."""
    path = Path(model_dir) / "model.yaml"
    text = path.read_text()
    for key in ("threshold", "min_joints", "duplicate_frac"):
        text, n = re.subn(rf"^(  {key}: ).*$", rf"\g<1>{parts[key]}", text, flags=re.M)
        assert n == 1, (key, n)
    path.write_text(text)


def main(out: str, model_dir: str | None = None) -> None:
    vtest = json.loads((Path(out) / "vtest/real_metrics.json").read_text())
    free = json.loads((Path(out) / "gcompris/real_metrics.json").read_text())
    grid = {k: v for k, v in vtest.items() if isinstance(v, dict) and "variant" in v}
    best = {m: max(v[m] for v in grid.values()) for m in ("precision", "recall", "pck")}
    kept = [k for k, v in grid.items() if all(v[m] >= best[m] - 0.01 for m in best)]

    def key(name: str) -> tuple:
        parts = decoding(name, grid[name])
        return (free[name]["people_found"], float(parts["threshold"]), int(parts["min_joints"]))

    ranked = sorted(kept, key=key)
    print("best on vtest 400-449: " + ", ".join(f"{m} {100 * b:.1f} %" for m, b in best.items()))
    for rank, name in enumerate(ranked):
        v = grid[name]
        print(f"{rank + 1}. {name}: vtest {100 * v['precision']:.1f} / {100 * v['recall']:.1f} / "
              f"{100 * v['pck']:.1f} %, people-free choice set {free[name]['people_found']} "
              f"people in {free[name]['images']} photos")
    if model_dir:
        apply(decoding(ranked[0], grid[ranked[0]]), model_dir)
        print(f"written into {model_dir}/model.yaml")
    dropped = sorted(set(grid) - set(kept))
    print(f"outside one point on vtest: {len(dropped)} of {len(grid)}")


if __name__ == "__main__":
    main(*sys.argv[1:3])
