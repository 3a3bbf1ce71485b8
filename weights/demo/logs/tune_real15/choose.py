"""Step 0m's checkpoint rule (weights/demo/COMMANDS.md) for a run R judged by after.sh: each
candidate under the decoding step 0k's rule wrote into its model.yaml must be, against the
shipped model under its own (0.55 / 4), not more than one point under on vtest 400-449
precision, recall and PCK, on synthetic seed 555 (F1@0.8 refined and with the ground plane)
and on Market Street recall, and find no more people on the people-free choice set. Among
those that pass: the higher Market Street recall, then fewer choice-set people, then the
higher vtest PCK. Given several runs (step 0o), one choice among all their candidates.

    python weights/demo/logs/tune_real15/choose.py runs/real15 [runs/wise15 ...]
"""

import json
import re
import sys
from pathlib import Path

# The shipped model under its decoding (0.55 / 4): weights/demo/logs/tune_real13/shipped/
# (vtest 400-449, choice set) and COMMANDS step 0k (synthetic seed 555, 600 frames).
SHIPPED = {"precision": 99.1, "recall": 100.0, "pck": 95.6, "choice_people": 0,
           "syn_refined": 40.18, "syn_ground": 60.15}
# Its Market Street figure (the same decoding), measured once in session 15.
SHIPPED_MARKET = Path(__file__).resolve().parent / "shipped/market_street.json"
TOLERANCE = 1.0  # points


def decoding_name(model_dir: Path) -> str:
    text = (model_dir / "model.yaml").read_text()
    get = lambda key: re.search(rf"^  {key}: (.*)$", text, re.M).group(1)  # noqa: E731
    return (f"threshold {float(get('threshold')):g}, min_joints {int(get('min_joints'))}, "
            f"duplicate_frac {float(get('duplicate_frac')):g}")


def figures(run: Path, c: str) -> dict:
    name = decoding_name(run / f"cand_{c}")
    vtest = json.loads((run / f"dec_{c}/vtest/real_metrics.json").read_text())[name]
    free = json.loads((run / f"dec_{c}/gcompris/real_metrics.json").read_text())[name]
    syn = json.loads((run / f"tune_syn/{c}/metrics.json").read_text())["jta"]
    return {"decoding": name, **market(run / f"market_{c}/real_metrics.json"),
            "precision": 100 * vtest["precision"], "recall": 100 * vtest["recall"],
            "pck": 100 * vtest["pck"], "choice_people": free["people_found"],
            "syn_refined": 100 * syn["refined"]["0.8"]["f1"],
            "syn_ground": 100 * syn["grounded"]["0.8"]["f1"]}


def market(path: Path) -> dict:
    video = json.loads(path.read_text())["video"]
    return {"market_recall": 100 * video["recall"], "market_precision": 100 * video["precision"]}


def failures(f: dict, shipped: dict) -> list[str]:
    below = [k for k in ("precision", "recall", "pck", "syn_refined", "syn_ground",
                         "market_recall") if f[k] < shipped[k] - TOLERANCE]
    return below + (["choice_people"] if f["choice_people"] > shipped["choice_people"] else [])


def main(runs: list[str]) -> None:
    shipped = {**SHIPPED, **market(SHIPPED_MARKET)}
    print("shipped (0.55 / 4): " + ", ".join(f"{k} {v:.2f}" for k, v in shipped.items()))
    passing = []
    for run in map(Path, runs):
        for c in ("best", "final"):
            if not (run / f"market_{c}").exists():
                continue  # best is final: judged once
            f = figures(run, c)
            failed = failures(f, shipped)
            name = c if len(runs) == 1 else f"{run}/cand_{c}"
            print(f"{name} ({f.pop('decoding')}): "
                  + ", ".join(f"{k} {v:.2f}" for k, v in f.items())
                  + (f" -> fails on {', '.join(failed)}" if failed else " -> passes"))
            if not failed:
                passing.append((-f["market_recall"], f["choice_people"], -f["pck"], name))
    print(f"choice: {min(passing)[-1]}" if passing else "choice: none passes, nothing ships")


if __name__ == "__main__":
    main(sys.argv[1:])
