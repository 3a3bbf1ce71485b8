"""Train the Code Predictor: rendered synthetic images -> codes of the FROZEN VHA encoder.

Every sample is a synthetic scene (loco_ros.synthetic) rendered at the network input size
with its own intrinsics (focal jittered around the canonical ``grid.focal_px``); the target is
``vha.encode(GT heatmap)`` with the heatmap rendered from the scene's 3D joints and K, so the
depth targets follow the canonical-focal convention (codec: depth * focal_px / fx).

Loss: MSE between predicted and target codes (the authors'), plus, with ``--aux-weight``, the
foreground-weighted MSE (train_vha.weighted_mse) between the frozen decoder's output of the
predicted code and the GT heatmap: it measures errors where they matter for the peaks
(the code MSE treats every code value alike). The decoder pass costs about as much as the
predictor itself on a CPU, so it is off by default.

Augmentation (optional): ``--color-jitter J`` brightness / contrast / saturation factors in
[1 - J, 1 + J] and a random channel gain; ``--scale-aug A`` resizes the image by
s in [1 / (1 + A), 1 + A] and crops / zero-pads it back to the input size at a random offset,
updating the intrinsics (``lifting.scale_intrinsics`` + the crop offset) before the GT
heatmap is rendered.

Data: ``--data synthetic`` (default, rendered on the fly), ``shards`` (``loco generate
shards`` output) or ``jta`` (the JTA dataset: ``--jta-root``, images from its videos);
images of another size are letterboxed to the network input. Real material mixed in: real
backgrounds, negatives, textures and object cut-outs (:mod:`loco_ros.training.real_images`),
teacher-labelled videos (``--teacher-*``, :mod:`loco_ros.training.sources`) and real people
cut-outs pasted into real photographs (``--cutout-people-share``,
:mod:`loco_ros.training.people_cutouts`).

Validation: code MSE and the pipeline's JTA F1 (no refiner) at 0.4 / 0.8 / 1.2 m on fixed
scenes of the validation seed; the best F1 at 0.8 m is kept as ``predictor.safetensors``.
"""

from __future__ import annotations

import argparse
import time

import cv2
import numpy as np
import torch

from loco_ros.config import ModelConfig, load_yaml
from loco_ros.decoding.codec import render_volumetric_heatmap
from loco_ros.decoding.lifting import scale_intrinsics
from loco_ros.model.backbones import load_imagenet_weights
from loco_ros.model.predictor import CodePredictor
from loco_ros.model.vha import VolumetricHeatmapAutoencoder
from loco_ros.model.weights import load_weights
from loco_ros.runtime.estimator import ImageToVolume
from loco_ros.synthetic.render import render_scene
from loco_ros.training import common, sources
from loco_ros.training.data import SceneRanges, draw_scene, scene_config
from loco_ros.training.loop import RunningMeans, keep_best, optimizer_step, start_run
from loco_ros.training.people_cutouts import PeopleCutoutSource, load_cutout_people
from loco_ros.training.real_images import ObjectBank, PhotoBank, RealImageMix, composite, retexture
from loco_ros.training.train_vha import weighted_mse

NAME = "predictor"
PLOT = common.Plot("Code predictor training", "f1_0.8")


def color_jitter(image: np.ndarray, rng: np.random.Generator, amount: float) -> np.ndarray:
    """(H, W, 3) uint8 -> uint8 with random brightness, contrast, saturation, channel gain."""
    x = image.astype(np.float32)
    b, c, s = rng.uniform(1.0 - amount, 1.0 + amount, 3)
    gain = rng.uniform(1.0 - amount / 3, 1.0 + amount / 3, 3).astype(np.float32)
    grey = x.mean(axis=2, keepdims=True)
    x = grey + (x - grey) * s
    x = (x - x.mean()) * c + x.mean()
    x = x * b * gain
    return np.clip(x + 0.5, 0, 255).astype(np.uint8)


def scale_crop(image: np.ndarray, K: np.ndarray, rng: np.random.Generator, amount: float,
               zoom: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Resize by s log-uniform in [1/(1+amount), 1+amount] (with ``zoom`` > 1: half the time
    in [1, zoom] instead), crop / zero-pad back to the same size at a random offset; returns
    the image and its intrinsics."""
    h, w = image.shape[:2]
    if zoom > 1.0 and rng.random() < 0.5:
        s = float(np.exp(rng.uniform(0.0, np.log(zoom))))
    else:
        s = float(np.exp(rng.uniform(-np.log1p(amount), np.log1p(amount))))
    nw, nh = max(1, round(w * s)), max(1, round(h * s))
    resized = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA if s < 1 else
                         cv2.INTER_LINEAR)
    K2 = scale_intrinsics(K, nw / w, nh / h)
    # offset of the resized image's origin in the output (negative = cropped)
    ox = int(rng.integers(min(0, w - nw), max(0, w - nw) + 1))
    oy = int(rng.integers(min(0, h - nh), max(0, h - nh) + 1))
    out = np.zeros_like(image)
    src_x0, src_y0 = max(0, -ox), max(0, -oy)
    dst_x0, dst_y0 = max(0, ox), max(0, oy)
    cw = min(w - dst_x0, nw - src_x0)
    ch = min(h - dst_y0, nh - src_y0)
    out[dst_y0:dst_y0 + ch, dst_x0:dst_x0 + cw] = resized[src_y0:src_y0 + ch,
                                                          src_x0:src_x0 + cw]
    K2[0, 2] += ox
    K2[1, 2] += oy
    return out, K2


def make_sample(index: int, seed: int, config: ModelConfig, scene_cfg, stream: int,
                jitter: float, scale_aug: float, photos: PhotoBank | None = None,
                mix: RealImageMix | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(image (3, Hi, Wi) float32 in [0, 1], GT heatmap (J, D, H, W)) of sample ``index``.

    With ``photos``: a ``mix.negative`` share of samples is a real photograph alone (empty
    heatmap), and a ``mix.background`` share of the others has the rendered people over a
    real photograph, with real textures (``mix.texture``) on them."""
    rng = common.sample_rng(seed, index, stream + 10)
    mix = mix or RealImageMix()
    scene = draw_scene(seed, index, scene_cfg, stream)
    joints, K = scene.joints_xyz_m, scene.K
    size_wh = (config.grid.image_width, config.grid.image_height)
    if photos is not None and rng.random() < mix.negative:
        image, joints = photos.backdrop(rng, size_wh, mix.plate, mix.objects), joints[:0]
    elif photos is not None and rng.random() < mix.background:
        image, _, label = render_scene(scene, rng, return_maps=True)
        image = retexture(image, label, photos, rng, mix.texture)
        image = composite(image, label, photos.backdrop(rng, size_wh, mix.plate, mix.objects))
    else:
        image = render_scene(scene, rng)
    if scale_aug > 0:
        image, K = scale_crop(image, K, rng, scale_aug)
    if jitter > 0:
        image = color_jitter(image, rng, jitter)
    heatmap = render_volumetric_heatmap(joints, K, config.grid)
    chw = np.ascontiguousarray(image.transpose(2, 0, 1), dtype=np.float32) / 255.0
    return chw, heatmap


def letterbox_uint8(image: np.ndarray, K: np.ndarray, size_wh: tuple[int, int]
                    ) -> tuple[np.ndarray, np.ndarray]:
    """An (H, W, 3) uint8 image letterboxed to ``size_wh`` (uint8) and its intrinsics."""
    if (image.shape[1], image.shape[0]) == tuple(size_wh):
        return image, np.asarray(K, np.float64)
    from loco_ros.runtime.estimator import letterbox_image

    pre = letterbox_image(image, K, size_wh)
    out = (pre.image[0].transpose(1, 2, 0) * 255.0 + 0.5).astype(np.uint8)
    return out, pre.K_net


def make_source_sample(index: int, seed: int, config: ModelConfig, source, jitter: float,
                       scale_aug: float, zoom: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Like :func:`make_sample` for a shard / JTA source (loco_ros.training.sources);
    ``zoom``: see :func:`scale_crop`."""
    rng = common.sample_rng(seed, index, 10)
    image, K, joints = source(index)
    grid = config.grid
    image, K = letterbox_uint8(image, K, (grid.image_width, grid.image_height))
    if scale_aug > 0 or zoom > 1.0:
        image, K = scale_crop(image, K, rng, scale_aug, zoom)
    if jitter > 0:
        image = color_jitter(image, rng, jitter)
    heatmap = render_volumetric_heatmap(joints, K, grid)
    chw = np.ascontiguousarray(image.transpose(2, 0, 1), dtype=np.float32) / 255.0
    return chw, heatmap


def collate(items):
    images = torch.from_numpy(np.stack([i for i, _ in items]))
    heatmaps = torch.from_numpy(np.stack([h for _, h in items]))
    return images, heatmaps


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="loco train-predictor", description=__doc__.split("\n")[0])
    p.add_argument("--model-config", required=True, help="ModelConfig YAML")
    p.add_argument("--vha", required=True, help="trained VHA weights (frozen)")
    common.add_common_args(p)
    p.add_argument("--aux-weight", type=float, default=0.0, help="decoder-space loss weight")
    p.add_argument("--fg-weight", type=float, default=10.0, help="foreground weight (aux)")
    p.add_argument("--color-jitter", type=float, default=0.2)
    p.add_argument("--scale-aug", type=float, default=0.0)
    p.add_argument("--people", type=int, nargs=2, default=(1, 20), metavar=("MIN", "MAX"))
    p.add_argument("--distance", type=float, nargs=2, default=(2.0, 25.0), metavar=("MIN", "MAX"))
    p.add_argument("--focal-jitter", type=float, default=0.3)
    p.add_argument("--val-scenes", type=int, default=32)
    p.add_argument("--init", default=None, help="start from these predictor weights")
    p.add_argument("--init-backbone", default=None,
                   help="start the backbone from these predictor weights (any VHA version)")
    p.add_argument("--init-head", default=None,
                   help="start the head's last convolutions (conv1, conv2, out) from these "
                   "predictor weights (same VHA code, any backbone)")
    p.add_argument("--imagenet", action="store_true",
                   help="start the backbone from its packaged ImageNet weights")
    p.add_argument("--freeze-blocks", type=int, default=0,
                   help="EfficientNet backbones: keep the stem and the first N blocks fixed")
    p.add_argument("--weight-decay", type=float, default=0.0)
    p.add_argument("--real-backgrounds", type=float, default=0.0,
                   help="share of samples with the rendered people over a real photograph")
    p.add_argument("--negatives", type=float, default=0.0,
                   help="share of samples that are a real photograph with nobody (empty heatmap)")
    p.add_argument("--real-textures", type=float, default=0.5,
                   help="per composited person, probability of a real texture")
    p.add_argument("--teacher-video", default=None,
                   help="real video with teacher labels mixed in (a path, or vtest / sports2d)")
    p.add_argument("--teacher-labels", default=None, help="its labels (loco_ros.teacher)")
    p.add_argument("--teacher-set", default=None,
                   help="instead of --teacher-video/-labels/-frames: a YAML list of teacher "
                        "videos (sources.TeacherVideo: video, labels, frames, people, weight); "
                        "the plate is the first one's")
    p.add_argument("--teacher-frames", type=int, nargs=2, default=(0, 400),
                   metavar=("FIRST", "END"), help="the frames trained on, [FIRST, END)")
    p.add_argument("--teacher-share", type=float, default=0.3,
                   help="share of samples taken from the teacher-labelled video")
    p.add_argument("--teacher-zoom", type=float, default=0.0,
                   help="half the teacher frames zoomed in by up to this factor (its walkers "
                        "are small: real people seen close up)")
    p.add_argument("--plate-share", type=float, default=0.0,
                   help="share of the real backgrounds and negatives taken from the teacher "
                        "video's background plate (median of its training frames)")
    p.add_argument("--object-share", type=float, default=0.0,
                   help="share of the real backgrounds and negatives with object cut-outs "
                        "(Tux Paint's stamps) pasted in: things that are not people")
    p.add_argument("--cutout-people-share", type=float, default=0.0,
                   help="share of samples that are real people cut-outs (Scratch's photographs) "
                        "pasted into the real backgrounds, with their teacher labels")
    p.add_argument("--cutout-people-labels", default="data/real/labels/scratch_people.json",
                   help="the cut-outs' teacher labels (loco_ros.teacher.label_cutouts)")
    p.add_argument("--mocap-share", type=float, default=0.0,
                   help="share of synthetic people posed from real motion capture (pybullet)")
    sources.add_source_args(p)
    p.set_defaults(batch_size=8, lr=1e-3, warmup=100)
    return p


def main(argv: list[str] | None = None) -> dict:
    args = build_parser().parse_args(argv)
    torch.set_num_threads(args.threads)
    info = common.setup_distributed(args.device, args.dist_init_method)
    config: ModelConfig = load_yaml(ModelConfig, args.model_config)
    grid = config.grid
    run = common.RunDir(args.out, NAME)
    common.seed_everything(args.seed)
    vha = VolumetricHeatmapAutoencoder(grid, config.vha.version)
    load_weights(vha, args.vha)
    vha.to(info.device).eval()
    for p in vha.parameters():
        p.requires_grad_(False)
    model = CodePredictor(config).to(info.device)
    if args.init:
        load_weights(model, args.init)
    if args.init_backbone:
        load_weights(model, args.init_backbone, prefix="backbone.")
    if args.imagenet:
        load_imagenet_weights(model.backbone)
    if args.init_head:
        for prefix in ("conv1.", "conv2.", "out."):
            load_weights(model, args.init_head, prefix=prefix)
    if args.freeze_blocks:
        model.backbone.freeze(args.freeze_blocks)
    trained = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trained, lr=args.lr, weight_decay=args.weight_decay)
    started = start_run(run, model, optimizer, config, args, info, NAME, -1.0)
    start, best, log, ddp = started.step, started.best, started.log, started.ddp

    ranges = SceneRanges(people=tuple(args.people), distance_m=tuple(args.distance),
                         focal_jitter=args.focal_jitter, mocap_share=args.mocap_share)
    scene_cfg = scene_config(grid, ranges)

    source = sources.make_source(args.data, args.seed, args.shards, args.jta_root,
                                 args.jta_split, args.jta_frame_step)

    if args.plate_share > 0 and not (args.teacher_video or args.teacher_set):
        raise SystemExit("--plate-share needs --teacher-video or --teacher-set (the plate is "
                         "that video's)")
    if args.object_share > 0 and not (args.real_backgrounds > 0 or args.negatives > 0):
        raise SystemExit("--object-share needs --real-backgrounds or --negatives (the cut-outs "
                         "go into those photographs)")
    teacher = None
    if args.teacher_set and args.teacher_video:
        raise SystemExit("--teacher-set and --teacher-video exclude each other")
    if args.teacher_set or args.teacher_video:  # one video is a set of one
        entries = (sources.load_teacher_set(args.teacher_set) if args.teacher_set else
                   [sources.TeacherVideo(args.teacher_video, args.teacher_labels,
                                         tuple(args.teacher_frames))])
        teacher = sources.TeacherSetSource(entries, args.seed)

    photos, mix = None, RealImageMix(args.real_backgrounds, args.negatives, args.real_textures,
                                     args.plate_share, args.object_share)
    if args.real_backgrounds > 0 or args.negatives > 0:
        from loco_ros.data.real_material import background_photos, object_cutouts

        plates = [teacher.background_plate()] if teacher is not None and args.plate_share else []
        objects = ObjectBank(object_cutouts()) if args.object_share > 0 else None
        photos = PhotoBank(background_photos(), plates, objects)

    cutouts = None
    if args.cutout_people_share > 0:
        if photos is None:
            raise SystemExit("--cutout-people-share needs --real-backgrounds or --negatives (the "
                             "cut-outs go into those photographs)")
        from loco_ros.data.real_material import people_cutouts

        cutouts = PeopleCutoutSource(
            load_cutout_people(args.cutout_people_labels, people_cutouts()), photos, args.seed,
            plate_share=args.plate_share, object_share=args.object_share)
    teacher_share = args.teacher_share if teacher is not None else 0.0

    def make(index: int):
        u = common.sample_rng(args.seed, index, 30).random()
        if u < teacher_share:
            return make_source_sample(index, args.seed, config, teacher, args.color_jitter,
                                      args.scale_aug, args.teacher_zoom)
        if cutouts is not None and u < teacher_share + args.cutout_people_share:
            return make_source_sample(index, args.seed, config, cutouts, args.color_jitter,
                                      args.scale_aug)
        if source is not None:
            return make_source_sample(index, args.seed, config, source, args.color_jitter,
                                      args.scale_aug)
        return make_sample(index, args.seed, config, scene_cfg, 0, args.color_jitter,
                           args.scale_aug, photos, mix)

    val = None
    if info.is_main and args.val_scenes > 0:
        from loco_ros.evaluation.pipeline import evaluation_pipeline, people_in_image, run_frame
        from loco_ros.metrics import jta_metric
        from loco_ros.training.data import gt_people

        val_scenes = [draw_scene(args.val_seed, i, scene_cfg, 1) for i in range(args.val_scenes)]
        val_images = [render_scene(s, common.sample_rng(args.val_seed, i, 11))
                      for i, s in enumerate(val_scenes)]
        val = (val_scenes, val_images)

    def validate(step: int) -> float:
        scenes, images = val
        model.eval()
        net = ImageToVolume(getattr(model, "module", model), vha).eval()  # DDP: its module
        frame_pipeline = evaluation_pipeline(net, config)
        frames, grounded, code_err = [], [], []
        with torch.no_grad():
            for scene, image in zip(scenes, images, strict=True):
                out = run_frame(frame_pipeline, image, scene.K, scene.camera.ground_plane)
                gt = gt_people(scene)
                for people, store in ((out.detected, frames), (out.grounded, grounded)):
                    pred = people_in_image(people, scene.image_size, scene.K)
                    store.append((gt, pred, out.solitary))
                hm = render_volumetric_heatmap(scene.joints_xyz_m, scene.K, grid)
                target = vha.encode(torch.from_numpy(hm)[None].to(info.device))
                x = torch.from_numpy(image.transpose(2, 0, 1).astype(np.float32) / 255.0)
                code = model(x[None].to(info.device))
                code_err.append(float(torch.mean((code - target) ** 2)))
        res = jta_metric(frames)
        rec = {"code_mse": float(np.mean(code_err))}
        for t, r in res.items():
            rec.update({f"f1_{t:g}": r["f1"], f"pr_{t:g}": r["pr"], f"re_{t:g}": r["re"]})
        rec.update({f"f1_ground_{t:g}": r["f1"] for t, r in jta_metric(grounded).items()})
        log.val(step=step, **rec)
        model.train()
        return rec["f1_0.8"]

    loader = common.make_loader(make, start, args.steps, info, args.batch_size, args.workers,
                                collate)
    bar = common.progress_bar(args, start, info, "train-predictor")
    t0 = started.clock_start()
    running = RunningMeans(log, bar, info, args)
    model.train()
    step = start
    for images, heatmaps in loader:
        lr = common.schedule_lr(step, time.time() - t0, args)
        common.set_lr(optimizer, lr)
        images = images.to(info.device, non_blocking=True)
        heatmaps = heatmaps.to(info.device, non_blocking=True)
        with torch.no_grad():
            target = vha.encode(heatmaps)
        code = ddp(images)
        code_loss = torch.mean((code - target) ** 2)
        loss = code_loss
        if args.aux_weight > 0:
            loss = loss + args.aux_weight * weighted_mse(vha.decode(code), heatmaps,
                                                         args.fg_weight)
        value = optimizer_step(optimizer, loss)
        step += 1
        bar.update(1)
        running.add(step, lr, t0, {"loss": value, "code_mse": float(code_loss.detach())})
        if val is not None and (step % args.val_every == 0 or step == args.steps):
            f1 = validate(step)
            bar.write(f"step {step}: val F1@0.8m = {f1:.4f} (best {max(best, f1):.4f})")
            best = keep_best(run, model, step, f1, best, "val_f1_0.8")
        if common.checkpoint_or_stop(run, log, model, optimizer, step, best, args, info, t0,
                                     PLOT):
            break
    bar.close()
    if info.is_main:
        common.finish_run(run, log, model, step, best >= 0, t0, PLOT, best_val_f1_08=best)
    common.cleanup_distributed()
    return {"step": step, "best_f1_0.8": best, "model": model}


if __name__ == "__main__":
    main()
