"""Train the pointer on CPU: ``python -m agents.pointer.train --dataset <record out_dir> --steps N --out <dir>``.

Reads the recording's LeRobotDataset with LeRobot's loader and its ``labels.jsonl`` (:mod:`agents.pointer.data`),
holds out the last ``--heldout-episodes`` episodes (by the dataset's ``episode_index``), or, with
``--heldout-dataset``, measures the held-out error on another recording instead, trains with Adam (cosine
schedule over ``--steps``), and stops at ``--steps`` or, if given, when ``--time-budget-s`` of wall-clock
training time is spent (counted from before the frames are decoded), or at ``--stop-at-step`` (the steps done
are recorded).  Writes into ``--out``:

- ``checkpoint/``: ``model.safetensors`` + ``config.json`` (the model config, the training settings, the steps
  and wall time done, the held-out pixel errors): what ``agent=learned agent.reasoner.checkpoint=`` loads;
- ``train_state/``: the optimizer's state (safetensors) and the step, to resume: running the same command again
  continues from the last saved step (``--save-every``) and gives the weights an uninterrupted run gives, since
  every step's batch and augmentation are drawn from a generator seeded by (``--seed``, step);
- ``train_log.jsonl`` (loss every ``--log-every`` steps) and ``eval.json`` (held-out errors).

Deterministic on CPU: fixed seeds, ``torch.use_deterministic_algorithms``, no loader workers (the frames are
decoded once into memory), ``--threads`` intra-op threads (a different thread count may change the last bits).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from agents.pointer.data import ARM_AWAY_M, PointerFrames, load_frames, stored_size
from agents.pointer.model import PointerConfig, PointerNet, decode, heatmap_loss, load_checkpoint, save_checkpoint
from envs.errors import BenchError

log = logging.getLogger("agents.pointer.train")
STATE_DIR, CHECKPOINT_DIR = "train_state", "checkpoint"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m agents.pointer.train", description=__doc__.split("\n")[0])
    p.add_argument("--dataset", required=True, help="an eval.record out_dir (holds dataset/ and labels.jsonl)")
    p.add_argument("--out", required=True, help="output folder (checkpoint/, train_state/, logs)")
    p.add_argument("--steps", type=int, default=4000, help="training steps (the schedule's length)")
    p.add_argument("--time-budget-s", type=float, default=None, help="stop after this much training wall time")
    p.add_argument("--stop-at-step", type=int, default=None,
                   help="stop (and save) at this step, to resume later with the same command without it")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--weight-decay", type=float, default=1e-4)
    p.add_argument("--heldout-episodes", type=int, default=20, help="the last N episodes are held out")
    p.add_argument("--heldout-dataset", default=None,
                   help="another eval.record out_dir (scenes of another base seed): the held-out pixel errors are "
                        "measured on all of its episodes (with --heldout-episodes 0 every recorded episode trains)")
    p.add_argument("--shift-px", type=int, default=6, help="augmentation: random image shift up to this (0: off)")
    p.add_argument("--arm-away-fraction", type=float, default=0.0,
                   help="share of each batch drawn from frames with the gripper away from the objects (as in the "
                        "agent's looks; the rest uniformly from all frames)")
    p.add_argument("--width", type=int, default=PointerConfig.width)
    p.add_argument("--stride", type=int, default=PointerConfig.stride)
    p.add_argument("--film-half", action="store_true", help="condition the 1/2-resolution stage too")
    p.add_argument("--camera", default="primary")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    p.add_argument("--save-every", type=int, default=500)
    p.add_argument("--log-every", type=int, default=50)
    return p.parse_args(argv)


def split(frames: PointerFrames, heldout: int) -> tuple[PointerFrames, PointerFrames, list[int]]:
    episodes = sorted(set(frames.episode.tolist()))
    if heldout >= len(episodes):
        raise BenchError(f"--heldout-episodes {heldout} leaves no training episode (the dataset has {len(episodes)})")
    held = episodes[len(episodes) - heldout:] if heldout > 0 else []
    mask = np.isin(frames.episode, held)
    return frames.subset(~mask), frames.subset(mask), held


def batch(frames: PointerFrames, idx: np.ndarray, gen: np.random.Generator, shift_px: int):
    """Images (B, 3, H, W) in [0, 1], pixels (B, R, 2), valid (B, R), cond (B, C); shifted by up to ``shift_px``
    (edges replicated, labels moved with the image; a label shifted out of the image is masked)."""
    imgs = frames.images[idx]
    uv = frames.uv[idx].copy()
    valid = frames.valid[idx].copy()
    if shift_px > 0:
        h, w = imgs.shape[1:3]
        pad = np.pad(imgs, ((0, 0), (shift_px, shift_px), (shift_px, shift_px), (0, 0)), mode="edge")
        out = np.empty_like(imgs)
        d = gen.integers(-shift_px, shift_px + 1, size=(len(idx), 2))  # (du, dv)
        for i, (du, dv) in enumerate(d):
            out[i] = pad[i, shift_px - dv:shift_px - dv + h, shift_px - du:shift_px - du + w]
        imgs = out
        uv += d[:, None, :].astype(np.float32)
        valid &= (uv[..., 0] >= -0.5) & (uv[..., 0] <= w - 0.5) & (uv[..., 1] >= -0.5) & (uv[..., 1] <= h - 0.5)
    x = torch.from_numpy(imgs).permute(0, 3, 1, 2).float() / 255.0
    return x, torch.from_numpy(uv), torch.from_numpy(valid), torch.from_numpy(frames.cond[idx])


@torch.no_grad()
def predict(model: PointerNet, frames: PointerFrames, batch_size: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """Pixels (N, R, 2) and confidences (N, R) for every frame."""
    model.eval()
    uvs, confs = [], []
    for s in range(0, len(frames), batch_size):
        idx = np.arange(s, min(s + batch_size, len(frames)))
        x, _, _, cond = batch(frames, idx, np.random.default_rng(0), 0)
        uv, conf = decode(model(x, cond), model.cfg)
        uvs.append(uv.numpy())
        confs.append(conf.numpy())
    return np.concatenate(uvs), np.concatenate(confs)


def pixel_errors(model: PointerNet, frames: PointerFrames) -> dict:
    """Per role, the distance from the predicted pixel to the label (stored-image pixels) over the frames whose
    label lies in the image (``all``), the episodes' first frames (``first``: what the agent's first look sees,
    arm at home), the frames whose object centre is unoccluded (``visible``) and those with the gripper away
    from the objects (``arm_away``, as in the agent's looks): n, median, mean, p90, max."""
    uv, _ = predict(model, frames)
    err = np.linalg.norm(uv - frames.uv, axis=-1)
    out: dict = {}
    for j, role in enumerate(model.cfg.roles):
        sets = {"all": frames.valid[:, j], "first": frames.valid[:, j] & (frames.frame == 0),
                "visible": frames.valid[:, j] & frames.visible[:, j], "arm_away": frames.valid[:, j] & frames.arm_away}
        out[role] = {name: _stats(err[m, j]) for name, m in sets.items()}
    return out


def _stats(e: np.ndarray) -> dict:
    if len(e) == 0:
        return {"n": 0}
    return {"n": int(len(e)), "median": round(float(np.median(e)), 3), "mean": round(float(np.mean(e)), 3),
            "p90": round(float(np.quantile(e, 0.9)), 3), "max": round(float(np.max(e)), 3)}


def _lr(step: int, args: argparse.Namespace) -> float:
    warm = min(100, args.steps // 10)
    if step < warm:
        return args.lr * (step + 1) / warm
    return 0.5 * args.lr * (1 + math.cos(math.pi * min(1.0, (step - warm) / max(1, args.steps - warm))))


def _identity(args: argparse.Namespace, cfg: PointerConfig) -> dict:
    """What a resumed run must share with the run it continues (everything but the stopping rule and logging)."""
    keep = ("dataset", "steps", "batch_size", "lr", "weight_decay", "heldout_episodes", "shift_px",
            "arm_away_fraction", "camera", "seed")
    return {"model": json.loads(json.dumps(asdict(cfg))), **{k: getattr(args, k) for k in keep}}


def _save_state(out: Path, model: PointerNet, opt: torch.optim.Optimizer, step: int, wall_s: float,
                identity: dict) -> None:
    d = out / STATE_DIR
    d.mkdir(parents=True, exist_ok=True)
    sd = opt.state_dict()
    tensors = {f"{i}.{k}": v.detach().clone().contiguous() for i, st in sd["state"].items()
               for k, v in st.items() if torch.is_tensor(v)}
    tensors.update({f"model.{k}": v.detach().contiguous() for k, v in model.state_dict().items()})
    tmp = d / "state.safetensors.tmp"
    save_file(tensors, str(tmp))
    tmp.replace(d / "state.safetensors")
    tmp = d / "state.json.tmp"
    tmp.write_text(json.dumps({"step": step, "wall_s": round(wall_s, 3), "identity": identity,
                               "param_groups": sd["param_groups"]}))
    tmp.replace(d / "state.json")


def _load_state(out: Path, model: PointerNet, opt: torch.optim.Optimizer, identity: dict) -> tuple[int, float]:
    d = out / STATE_DIR
    if not (d / "state.json").is_file():
        return 0, 0.0
    meta = json.loads((d / "state.json").read_text())
    if meta.get("identity") != identity:
        diff = sorted(k for k in identity if (meta.get("identity") or {}).get(k) != identity[k])
        raise BenchError(f"{out} holds a training with other settings ({', '.join(diff)}): resume it with the same "
                         "settings or choose another --out")
    tensors = load_file(str(d / "state.safetensors"))
    model.load_state_dict({k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")})
    state: dict = {}
    for k, v in tensors.items():
        if not k.startswith("model."):
            i, name = k.split(".", 1)
            state.setdefault(int(i), {})[name] = v
    opt.load_state_dict({"state": state, "param_groups": meta["param_groups"]})
    return int(meta["step"]), float(meta["wall_s"])


def train(args: argparse.Namespace) -> dict:
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cfg = PointerConfig(image_size=stored_size(args.dataset, args.camera), width=args.width, stride=args.stride,
                        film_half=args.film_half)
    t0 = time.perf_counter()  # the training clock counts decoding the frames (a per-step loader's work)
    frames = load_frames(args.dataset, cfg, args.camera)
    train_set, held_set, held = split(frames, args.heldout_episodes)
    log.info("loaded %d frames of %d episodes in %.1f s: %d for training, %d held out (episodes %s)", len(frames),
             len(set(frames.episode.tolist())), time.perf_counter() - t0, len(train_set), len(held_set),
             f"{held[0]}-{held[-1]}" if held else "none")
    away = np.flatnonzero(train_set.arm_away)
    log.info("%d training frames with the gripper %.2f m or more from the objects", len(away), ARM_AWAY_M)
    model = PointerNet(cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    identity = _identity(args, cfg)
    step, wall_s = _load_state(out, model, opt, identity)
    if step:
        log.info("resuming at step %d (%.0f s of training done)", step, wall_s)
    n_params = sum(p.numel() for p in model.parameters())
    logf = (out / "train_log.jsonl").open("a")
    start, stopped_by = t0 - wall_s, "steps"
    model.train()
    while step < args.steps:
        if args.stop_at_step is not None and step >= args.stop_at_step:
            stopped_by = "stop_at_step"
            break
        if args.time_budget_s is not None and time.perf_counter() - start >= args.time_budget_s:
            stopped_by = "time_budget"
            break
        gen = np.random.default_rng([args.seed, step])
        idx = gen.integers(0, len(train_set), size=args.batch_size)
        n_away = int(round(args.arm_away_fraction * args.batch_size))
        if n_away and len(away):
            idx[:n_away] = away[gen.integers(0, len(away), size=n_away)]
        x, uv, valid, cond = batch(train_set, idx, gen, args.shift_px)
        for g in opt.param_groups:
            g["lr"] = _lr(step, args)
        loss = heatmap_loss(model(x, cond), uv, valid, cfg)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        if step % args.log_every == 0 or step == 1:
            rec = {"step": step, "loss": round(loss.item(), 5), "lr": round(_lr(step - 1, args), 6),
                   "wall_s": round(time.perf_counter() - start, 2)}
            logf.write(json.dumps(rec) + "\n")
            logf.flush()
            log.info("step %d loss %.4f (%.2f steps/s)", step, rec["loss"], step / max(rec["wall_s"], 1e-9))
        if step % args.save_every == 0:
            _save_state(out, model, opt, step, time.perf_counter() - start, identity)
    wall_s = time.perf_counter() - start
    logf.close()
    _save_state(out, model, opt, step, wall_s, identity)
    if args.heldout_dataset:
        held_set = load_frames(args.heldout_dataset, cfg, args.camera)
        held = sorted(set(held_set.episode.tolist()))
        log.info("held out: all %d episodes of %s (%d frames)", len(held), args.heldout_dataset, len(held_set))
    errors = pixel_errors(model, held_set) if len(held_set) else {}
    settings = {k: v for k, v in vars(args).items() if k not in ("out",)}
    info = {"steps": step, "stopped_by": stopped_by, "train_wall_s": round(wall_s, 1), "parameters": n_params,
            "frames": {"train": len(train_set), "heldout": len(held_set)}, "heldout_episodes": held,
            "heldout_dataset": str(args.heldout_dataset or args.dataset),
            "pixel_units": f"pixels of the {cfg.image_size[0]}x{cfg.image_size[1]} image the pointer sees",
            "heldout_errors": errors}
    save_checkpoint(model, out / CHECKPOINT_DIR, {"training": settings, **info})
    (out / "eval.json").write_text(json.dumps(info, indent=2) + "\n")
    log.info("%d steps in %.0f s (%s); checkpoint %s", step, wall_s, stopped_by, out / CHECKPOINT_DIR)
    for role, e in errors.items():
        log.info("held-out %s: all %s | first frames %s | arm away %s", role, e["all"], e["first"], e["arm_away"])
    return info


def evaluate(checkpoint: str | Path, dataset: str | Path, heldout_episodes: int, camera: str = "primary") -> dict:
    """The held-out pixel errors of a saved checkpoint on a recording (the same split rule as training)."""
    model, _ = load_checkpoint(checkpoint)
    frames = load_frames(dataset, model.cfg, camera)
    _, held_set, _ = split(frames, heldout_episodes)
    return pixel_errors(model, held_set)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="[%(asctime)s][%(name)s][%(levelname)s] - %(message)s")
    args = parse_args(argv)
    try:
        train(args)
    except BenchError as e:
        log.error("%s", e)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
