"""Evaluation on real footage: a video against teacher labels, and people-free photographs.

    loco evaluate --source video --video PATH --labels LABELS.json [--frame-range A B]
                  [--frame-step S] [--focal-px F] --out DIR
    loco evaluate --source images --images DIR_OR_FILES... --out DIR   (people-free photos)
    loco evaluate --source real --out DIR       (the project's held-out real sets, below)
    loco evaluate --source multiview --out DIR  (metric 3D: loco_ros.evaluation.real_metric)

Video: every chosen frame runs through the pipeline (the refined people, as the node
publishes them) and is scored against the reference labels with :mod:`loco_ros.metrics.pose2d`:
person precision / recall and PCK@0.2 of the person's height on matched people. The
intrinsics of a video without calibration are nominal (``--focal-px``, default the image
width, principal point at the centre): 2D metrics do not depend on them.

Images: the number of people found per image (on people-free photographs every one is a
false person). ``--images gcompris`` is the people-free choice set (GCompris's animal
photographs: tuning only, never trained on, not held out). With ``--thresholds`` (and
``--min-joints``, ``--duplicate-fracs``) a video or an image set is scored under every
decoding of that grid.

``--source real`` runs the held-out real sets of the project (README "On a real camera"):
``vtest.avi`` frames 450-794 (the training split is 0-399, 400-449 are for tuning),
Sports2D's ``demo.mp4`` (whole scene never trained on) and the people-free stills of
opencv-doc and scikit-image (never trained on). It writes ``real_metrics.json``,
``real_metrics.md`` and ``real_overlay.png`` into ``--out``.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import cv2
import numpy as np
import torch
from tqdm import tqdm

from loco_ros.data.video import nominal_K, video_frames
from loco_ros.evaluation import add_model_argument, model_dir
from loco_ros.metrics import (
    SIZE_EDGES_FRAC,
    BinnedRecall,
    Pose2dCounts,
    bin_label,
    countable,
    match_people,
    visible_joints,
)
from loco_ros.metrics.tables import format_markdown_table
from loco_ros.skeleton import LIMBS
from loco_ros.types import People

# The held-out split of vtest.avi (frames; see module docstring) and its tuning split.
VTEST_TRAIN_FRAMES = (0, 400)
VTEST_TUNE_FRAMES = (400, 450)
VTEST_TEST_FRAMES = (450, 795)
LABELS_DIR = "data/real/labels"


@dataclass
class Model:
    """What the evaluation runs: the torch network, its config and the refiner."""

    config: object
    network: torch.nn.Module
    refiner: object
    backend_options: dict | None = None  # LocoEstimator's; None: torch where the weights are
    _pipeline: object = field(default=None, repr=False, compare=False)  # built on first use

    @classmethod
    def load(cls, model_dir: str | Path, precision: str = "fp32") -> Model:
        """The model of a directory; precision int8 runs the ONNX Runtime CPU int8 graph
        (``loco_ros.export.quantize``), fp32 the torch network."""
        from loco_ros.runtime.estimator import load_model, with_int8_calibration

        config, network, refiner = load_model(Path(model_dir))
        options = None
        if precision == "int8":
            options = with_int8_calibration(
                dict(backend="onnxruntime", device="cpu", precision="int8"), Path(model_dir))
        return cls(config, network, refiner, options)

    def with_decoding(self, threshold: float, min_joints: int, duplicate_frac: float
                      ) -> Model:
        """The same network with another peak threshold and association settings."""
        from dataclasses import replace

        c = self.config
        config = replace(c, decode=replace(c.decode, threshold=threshold),
                         association=replace(c.association, min_joints=min_joints,
                                             duplicate_frac=duplicate_frac))
        return Model(config, self.network, self.refiner, self.backend_options)

    def people(self, image_rgb: np.ndarray, K: np.ndarray):
        """The people the node would publish for this image (refined when a refiner runs)."""
        from loco_ros.evaluation.pipeline import evaluation_pipeline, run_frame

        if self._pipeline is None:
            self._pipeline = evaluation_pipeline(self.network, self.config, self.refiner,
                                                 backend_options=self.backend_options)
        return run_frame(self._pipeline, image_rgb, K).people


def draw_reference(image_rgb: np.ndarray, uv_px: np.ndarray) -> np.ndarray:
    """Copy of the image with reference skeletons (R, J, 2) in thin white lines."""
    canvas = np.ascontiguousarray(image_rgb).copy()
    for person in uv_px:
        for a, b in LIMBS:
            if np.all(np.isfinite(person[[a, b]])):
                pa, pb = (tuple(int(round(v)) for v in person[i]) for i in (a, b))
                cv2.line(canvas, pa, pb, (255, 255, 255), 1, cv2.LINE_AA)
    return canvas


@dataclass(frozen=True)
class ScoredFrame:
    """One labelled frame run through the model: its index, the image (RGB), the reference
    people's visible joints (R, J, 2) px, the model's people, the frame's counts and, of
    the countable reference people, the height as a fraction of the image's (C,) and
    whether the model found them (C,) bool."""

    index: int
    image: np.ndarray
    reference_uv: np.ndarray
    people: People
    counts: Pose2dCounts
    height_frac: np.ndarray
    found: np.ndarray

    def picture(self) -> np.ndarray:
        """The image with the reference in white and the model's people in colour."""
        from loco_ros.visualization import draw_people_2d

        return draw_people_2d(draw_reference(self.image, self.reference_uv), self.people)


def scored_frames(model: Model, video: str | Path, labels_path: str | Path,
                  frames: Sequence[int], focal_px: float | None = None,
                  min_height_frac: float = 0.1, progress: bool = True
                  ) -> tuple[list[int], float, Iterator[ScoredFrame]]:
    """The labelled ones of ``frames``, the reference's minimum height (px) and an iterator
    that runs and scores those frames in order.

    Reference people shorter than ``min_height_frac`` of the image height, or with fewer
    than 6 visible joints, are ignored (neither hit nor miss; a prediction on one is not a
    false person)."""
    from loco_ros.teacher.labels import load_labels

    labels = load_labels(labels_path)
    by_index = {f.index: f for f in labels.frames}
    frames = [i for i in sorted(by_index) if i in frames]  # in a range is O(1)
    w, h = labels.image_size
    K = nominal_K(w, h, focal_px)

    def run() -> Iterator[ScoredFrame]:
        for index, image in tqdm(video_frames(video, frames), total=len(frames),
                                 desc=f"evaluate {Path(video).name}",
                                 disable=None if progress else True):
            ref = by_index[index]
            ref_uv = visible_joints(ref.joints_px, ref.visibility)
            people = model.people(image, K)
            match = match_people(ref_uv, people.uv_px, countable(ref_uv, min_height_frac * h))
            counted = match.countable
            yield ScoredFrame(index, image, ref_uv, people, match.counts(ref_uv, people.uv_px),
                              match.height_px[counted] / h, match.found[counted])

    return frames, min_height_frac * h, run()


def evaluate_video(model: Model, video: str | Path, labels_path: str | Path,
                   frames: Sequence[int], focal_px: float | None = None,
                   min_height_frac: float = 0.1, overlay_frames: int = 4,
                   progress: bool = True) -> tuple[dict, list[np.ndarray]]:
    """Scores of ``frames`` of ``video`` against the labels (:func:`scored_frames`); also
    overlay pictures of ``overlay_frames`` frames spread over them (reference white,
    predictions coloured)."""
    frames, min_height_px, scored = scored_frames(model, video, labels_path, frames, focal_px,
                                                  min_height_frac, progress)
    total, by_size = Pose2dCounts(), BinnedRecall("height_frac", SIZE_EDGES_FRAC)
    show = set(np.linspace(0, len(frames) - 1, overlay_frames).round().astype(int).tolist()
               if frames else [])
    pictures = []
    for n, frame in enumerate(scored):
        total.add(frame.counts)
        by_size.add(frame.height_frac, frame.found)
        if n in show:
            picture = frame.picture()
            cv2.putText(picture, f"{Path(video).name} frame {frame.index}", (8, 22),
                        cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 0), 2)
            pictures.append(picture)
    result = {"video": Path(video).name, "labels": str(labels_path), "frames": len(frames),
              "frame_range": [min(frames), max(frames)] if frames else [],
              "min_height_px": min_height_px, **total.scores(), "counts": vars(total),
              "recall_by_height": by_size.rows()}
    return result, pictures


def evaluate_people_free(model: Model, paths: Sequence[str | Path], progress: bool = True
                         ) -> tuple[dict, list[np.ndarray]]:
    """People found per image on photographs with nobody in them (``per_image``: keyed by
    folder/name); the worst four drawn."""
    from loco_ros.visualization import draw_people_2d

    found: dict[str, int] = {}
    worst: list[tuple[int, np.ndarray]] = []
    for path in tqdm(paths, desc="people-free photos", disable=None if progress else True):
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            raise OSError(f"cannot read image {path}")
        image = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        people = model.people(image, nominal_K(image.shape[1], image.shape[0]))
        found[f"{Path(path).parent.name}/{Path(path).name}"] = len(people)  # names repeat
        if len(people):
            worst.append((len(people), draw_people_2d(image, people)))
    worst.sort(key=lambda item: -item[0])
    counts = np.array(list(found.values()))
    result = {"images": len(found), "people_found": int(counts.sum()),
              "people_per_image": float(counts.mean()) if counts.size else float("nan"),
              "images_with_people": int((counts > 0).sum()), "per_image": found}
    return result, [picture for _, picture in worst[:4]]


def overlay_grid(pictures: Sequence[np.ndarray], tile_wh: tuple[int, int] = (640, 400),
                 columns: int = 2) -> np.ndarray:
    """Pictures letterboxed into tiles, ``columns`` per row: (H, W, 3) uint8 RGB."""
    tiles = []
    for picture in pictures:
        s = min(tile_wh[0] / picture.shape[1], tile_wh[1] / picture.shape[0])
        small = cv2.resize(picture, (int(picture.shape[1] * s), int(picture.shape[0] * s)),
                           interpolation=cv2.INTER_AREA)
        tile = np.zeros((tile_wh[1], tile_wh[0], 3), np.uint8)
        tile[:small.shape[0], :small.shape[1]] = small
        tiles.append(tile)
    while len(tiles) % columns:
        tiles.append(np.zeros_like(tiles[0]))
    rows = [np.hstack(tiles[i:i + columns]) for i in range(0, len(tiles), columns)]
    return np.vstack(rows)


def markdown(results: dict) -> str:
    """The real-footage table of ``results`` (video results and people-free photo results)."""
    rows = []
    for r in results.values():
        if "people_per_image" in r:
            variant = f", {r['variant']}" if "variant" in r else ""
            rows.append([f"people-free photos ({r['images']} images){variant}", "-", "-", "-",
                         f"{r['people_per_image']:.3f}"])
        else:
            rows.append([_video_label(r), f"{100 * r['precision']:.1f} %",
                         f"{100 * r['recall']:.1f} %", f"{100 * r['pck']:.1f} %", "-"])
    table = format_markdown_table(
        ["real material", "person precision", "person recall", "PCK@0.2 (matched)",
         "people per image"], rows)
    videos = {name: r for name, r in results.items() if "recall_by_height" in r}
    return table + ("\n\n" + size_markdown(videos) if videos else "")


def _video_label(r: dict) -> str:
    return (f"{r['video']} frames {r['frame_range'][0]}-{r['frame_range'][1]}"
            f" ({r['frames']} frames)" + (f", {r['variant']}" if "variant" in r else ""))


def size_markdown(videos: dict) -> str:
    """Person recall by the reference people's height (fraction of the image height)."""
    bins = next(iter(videos.values()))["recall_by_height"]
    header = ["person recall by height / image height"] + [
        bin_label(b["height_frac"]) for b in bins]
    rows = [[_video_label(r)] + [f"{100 * b['recall']:.0f} % of {b['reference']}"
                                 if b["reference"] else "-" for b in r["recall_by_height"]]
            for r in videos.values()]
    return format_markdown_table(header, rows)


def held_out_real(model: Model, args: argparse.Namespace) -> tuple[dict, list[np.ndarray]]:
    """The three held-out real sets of the module docstring."""
    from loco_ros.data import real_material

    step = args.frame_step
    vtest, pictures = evaluate_video(
        model, real_material.vtest_video(), Path(args.labels_dir) / "vtest.json",
        range(*VTEST_TEST_FRAMES, step), None, args.min_height_frac, 2, not args.no_progress)
    sports, more = evaluate_video(
        model, real_material.sports2d_video(), Path(args.labels_dir) / "sports2d.json",
        range(0, 230, step), None, args.min_height_frac, 1, not args.no_progress)
    free, worst = evaluate_people_free(model, real_material.people_free_stills(),
                                       not args.no_progress)
    return {"vtest": vtest, "sports2d": sports, "people_free": free}, pictures + more + worst[:1]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="loco evaluate --source video|images|real|multiview",
                                description=__doc__.split("\n")[0])
    p.add_argument("--source", choices=("video", "images", "real", "multiview"), required=True)
    add_model_argument(p, "model directory")
    p.add_argument("--out", default=None, help="directory for the JSON, table and overlay")
    p.add_argument("--video", default=None)
    p.add_argument("--labels", default=None, help="teacher labels JSON of the video")
    p.add_argument("--labels-dir", default=LABELS_DIR, help="--source real: label files")
    p.add_argument("--frame-range", type=int, nargs=2, default=None, metavar=("FIRST", "END"))
    p.add_argument("--frame-step", type=int, default=1)
    p.add_argument("--focal-px", type=float, default=None, help="default: the image width")
    p.add_argument("--min-height-frac", type=float, default=0.1,
                   help="reference people shorter than this share of the image are ignored")
    p.add_argument("--images", nargs="+", default=None,
                   help="image files or folders; 'gcompris': the people-free choice set "
                   "(real_material.people_free_tuning_photos)")
    p.add_argument("--views", nargs="+", default=None,
                   help="--source multiview: Pose2Sim views (default: the untrained cam01 cam02)")
    p.add_argument("--thresholds", type=float, nargs="+", default=None,
                   help="--source video or images: score each decode threshold (tuning on "
                   "material that is neither trained nor tested on)")
    p.add_argument("--min-joints", type=int, nargs="+", default=None,
                   help="with --thresholds: also each association.min_joints")
    p.add_argument("--duplicate-fracs", type=float, nargs="+", default=None,
                   help="with --thresholds: also each association.duplicate_frac")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--precision", choices=("fp32", "int8"), default="fp32",
                   help="int8: the ONNX Runtime CPU int8 graph (precision int8 of the node)")
    p.add_argument("--no-progress", action="store_true")
    return p


def _image_paths(items: Sequence[str]) -> list[Path]:
    from loco_ros.data.real_material import IMAGE_SUFFIXES, people_free_tuning_photos

    paths: list[Path] = []
    for item in map(Path, items):
        if str(item) == "gcompris":
            paths += people_free_tuning_photos()
            continue
        paths += sorted(p for p in item.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES) \
            if item.is_dir() else [item]
    return paths


def decoding_variants(model: Model, args: argparse.Namespace) -> dict[str, Model]:
    """``{"video" or "people_free": model}``, or with ``--thresholds`` the model under every
    decoding of the grid (thresholds x min_joints x duplicate_fracs), keyed by its name."""
    if not args.thresholds:
        return {"video" if args.source == "video" else "people_free": model}
    if model.backend_options is None:  # torch: every decoding reuses each frame's volume
        from loco_ros.evaluation.volume_cache import RememberingNetwork

        model = replace(model, network=RememberingNetwork(model.network))
    c = model.config
    return {f"threshold {t:g}, min_joints {j}, duplicate_frac {f:g}": model.with_decoding(t, j, f)
            for t in args.thresholds
            for j in (args.min_joints or [c.association.min_joints])
            for f in (args.duplicate_fracs or [c.association.duplicate_frac])}


def _decoding(model: Model) -> dict[str, float | int]:
    """The decoding settings a grid variant was scored with, as numbers for its JSON."""
    c = model.config
    return {"threshold": c.decode.threshold, "min_joints": c.association.min_joints,
            "duplicate_frac": c.association.duplicate_frac}


def _score_variants(model: Model, args: argparse.Namespace) -> tuple[dict, list[np.ndarray]]:
    """--source video or images: every decoding variant scored on the same material."""
    from loco_ros.data.real_material import video_path

    if args.source == "video" and not (args.video and args.labels):
        raise SystemExit("--video and --labels are required with --source video")
    if args.source == "images" and not args.images:
        raise SystemExit("--images is required with --source images")
    first, end = args.frame_range or (0, 1 << 30)
    if args.source == "video":
        video, frames = video_path(args.video), range(first, end, args.frame_step)
    else:
        images = _image_paths(args.images)
    results, pictures = {}, []
    for name, variant in decoding_variants(model, args).items():
        if args.source == "video":
            result, shown = evaluate_video(variant, video, args.labels, frames, args.focal_px,
                                           args.min_height_frac, 4, not args.no_progress)
        else:
            result, shown = evaluate_people_free(variant, images, not args.no_progress)
        results[name] = {**result, "variant": name, "decoding": _decoding(variant)} \
            if args.thresholds else result
        pictures = pictures or shown
    return results, pictures


def main(argv: list[str] | None = None) -> dict:
    args = build_parser().parse_args(argv)
    args.model = model_dir(args.model)
    torch.set_num_threads(args.threads)
    model = Model.load(args.model, args.precision)
    t0 = time.time()
    if args.source == "multiview":
        from loco_ros.evaluation import real_metric

        args.views = args.views or list(real_metric.EVAL_VIEWS)
        return real_metric.run(model, args)
    if args.source == "real":
        results, pictures = held_out_real(model, args)
    else:
        results, pictures = _score_variants(model, args)
    text = markdown(results)
    print(text)
    results["model"], results["wall_s"] = str(args.model), time.time() - t0
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "real_metrics.json").write_text(json.dumps(results, indent=1, default=float))
        (out / "real_metrics.md").write_text(text)
        if pictures:
            grid = overlay_grid(pictures)
            cv2.imwrite(str(out / "real_overlay.png"), cv2.cvtColor(grid, cv2.COLOR_RGB2BGR))
    return results


if __name__ == "__main__":
    main()
