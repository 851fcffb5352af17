"""The pointer network, its decoding and its checkpoints.

Input: an RGB image at ``image_size`` (height, width; the size ``eval.record`` stored, 96 x 128 by default),
values in [0, 1], plus two coordinate channels; and a condition vector: per role, a one-hot of the colour the
instruction names for it (zeros when it names none).  A small U-Net (three stride-2 stages down to 1/8, FiLM from
the condition at 1/8 and 1/4, and at 1/2 with ``film_half``; skip connections back up to 1/``stride``) ends in one
heatmap per role.  Training treats each heatmap as a distribution over its cells (softmax) and fits a Gaussian
around the label (cross-entropy); decoding takes the arg-max cell and refines it with the softmax-weighted mean of
its neighbourhood (sub-cell precision).  Pixels are ``(u, v)`` = (column, row) in the ``image_size`` image, pixel
centres at integers (the convention of :mod:`eval.labels`).

A checkpoint is a folder: ``model.safetensors`` (weights) and ``config.json`` (:class:`PointerConfig`, plus
whatever the trainer records: dataset, steps, wall time, held-out errors).  Never pickle.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn

from envs.errors import ConfigError
from envs.scene import COLORS

WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
FORMAT = "vla-agent-bench/pointer/1"


@dataclass(frozen=True)
class PointerConfig:
    image_size: tuple[int, int] = (96, 128)  # (height, width) the network sees
    roles: tuple[str, ...] = ("block", "target")  # one heatmap each; the task roles of eval.labels
    colors: tuple[str, ...] = tuple(COLORS)  # the condition's vocabulary
    width: int = 24  # channels of the first stage (then 2x, 3x)
    stride: int = 2  # heatmap cell = stride x stride image pixels
    sigma_cells: float = 1.0  # the training target's Gaussian, in heatmap cells
    refine_radius: int = 2  # decoding: (2r+1)^2 cells around the arg-max
    film_half: bool = False  # also condition the first stage (1/2 resolution), where colours are still plain

    def __post_init__(self):
        h, w = self.image_size
        if h % 8 or w % 8:
            raise ConfigError(f"pointer image_size {self.image_size} must be multiples of 8 (three stride-2 stages)")
        if self.stride not in (2, 4):
            raise ConfigError(f"pointer stride must be 2 or 4, got {self.stride}")

    @property
    def heatmap_size(self) -> tuple[int, int]:
        return self.image_size[0] // self.stride, self.image_size[1] // self.stride

    @property
    def cond_dim(self) -> int:
        return len(self.roles) * len(self.colors)

    @classmethod
    def from_dict(cls, d: dict) -> PointerConfig:
        known = {f.name for f in fields(cls)}
        values: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in d.items() if k in known}
        return cls(**values)

    def condition(self, colors: dict[str, str | None]) -> np.ndarray:
        """Role -> named colour (or None) as the network's condition vector."""
        out = np.zeros((len(self.roles), len(self.colors)), np.float32)
        for i, role in enumerate(self.roles):
            c = colors.get(role)
            if c is not None and c in self.colors:
                out[i, self.colors.index(c)] = 1.0
        return out.reshape(-1)


def _conv(cin: int, cout: int, stride: int = 1, dilation: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, padding=dilation, dilation=dilation, bias=False),
                         nn.GroupNorm(min(8, cout), cout), nn.ReLU(inplace=True))


class FiLM(nn.Module):
    def __init__(self, cond_dim: int, channels: int):
        super().__init__()
        self.lin = nn.Linear(cond_dim, 2 * channels)
        nn.init.zeros_(self.lin.weight)
        nn.init.zeros_(self.lin.bias)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        gamma, beta = self.lin(cond)[:, :, None, None].chunk(2, dim=1)
        return x * (1 + gamma) + beta


class PointerNet(nn.Module):
    def __init__(self, cfg: PointerConfig):
        super().__init__()
        self.cfg = cfg
        c = cfg.width
        self.stem = nn.Sequential(_conv(5, c, 2), _conv(c, c))  # 1/2
        self.film2 = FiLM(cfg.cond_dim, c) if cfg.film_half else None
        self.down1 = nn.Sequential(_conv(c, 2 * c, 2), _conv(2 * c, 2 * c))  # 1/4
        self.down2 = nn.Sequential(_conv(2 * c, 3 * c, 2), _conv(3 * c, 3 * c))  # 1/8
        self.film8 = FiLM(cfg.cond_dim, 3 * c)
        self.context = nn.Sequential(_conv(3 * c, 3 * c, dilation=2), _conv(3 * c, 3 * c, dilation=4))
        self.up4 = _conv(5 * c, 2 * c)
        self.film4 = FiLM(cfg.cond_dim, 2 * c)
        self.up2 = _conv(3 * c, c) if cfg.stride == 2 else None
        self.head = nn.Conv2d(c if cfg.stride == 2 else 2 * c, len(cfg.roles), 1)

    def forward(self, images: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """images (B, 3, H, W) in [0, 1], cond (B, cond_dim) -> heatmap logits (B, roles, H/stride, W/stride)."""
        b, _, h, w = images.shape
        ys = torch.linspace(-1, 1, h, device=images.device).view(1, 1, h, 1).expand(b, 1, h, w)
        xs = torch.linspace(-1, 1, w, device=images.device).view(1, 1, 1, w).expand(b, 1, h, w)
        s2 = self.stem(torch.cat([images - 0.5, xs, ys], dim=1))
        if self.film2 is not None:
            s2 = self.film2(s2, cond)
        s4 = self.down1(s2)
        s8 = self.context(self.film8(self.down2(s4), cond))
        x = self.film4(self.up4(torch.cat([F.interpolate(s8, size=s4.shape[-2:], mode="nearest"), s4], 1)), cond)
        if self.up2 is not None:
            x = self.up2(torch.cat([F.interpolate(x, size=s2.shape[-2:], mode="nearest"), s2], 1))
        return self.head(x)


# --- targets, loss, decoding ---------------------------------------------------------
def to_cells(uv: torch.Tensor, stride: int) -> torch.Tensor:
    """Image pixels -> heatmap cell coordinates (centres at integers)."""
    return (uv + 0.5) / stride - 0.5


def to_pixels(cells: torch.Tensor, stride: int) -> torch.Tensor:
    return (cells + 0.5) * stride - 0.5


def heatmap_loss(logits: torch.Tensor, uv: torch.Tensor, valid: torch.Tensor, cfg: PointerConfig) -> torch.Tensor:
    """Cross-entropy of each role's softmax heatmap against a Gaussian at its label (pixels ``uv`` (B, R, 2));
    ``valid`` (B, R) masks labels outside the image."""
    b, r, hh, ww = logits.shape
    cells = to_cells(uv, cfg.stride)
    ys = torch.arange(hh, dtype=logits.dtype, device=logits.device).view(1, 1, hh, 1)
    xs = torch.arange(ww, dtype=logits.dtype, device=logits.device).view(1, 1, 1, ww)
    d2 = (xs - cells[..., 0, None, None]) ** 2 + (ys - cells[..., 1, None, None]) ** 2
    target = torch.softmax((-d2 / (2 * cfg.sigma_cells ** 2)).view(b, r, -1), dim=-1)
    ce = -(target * torch.log_softmax(logits.view(b, r, -1), dim=-1)).sum(-1)
    w = valid.to(logits.dtype)
    return (ce * w).sum() / w.sum().clamp(min=1.0)


def decode(logits: torch.Tensor, cfg: PointerConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """Heatmap logits (B, R, h, w) -> pixels (B, R, 2) as (u, v) in the image, and confidence (B, R): the softmax
    mass in the refinement window."""
    b, r, hh, ww = logits.shape
    prob = torch.softmax(logits.reshape(b, r, -1), dim=-1).view(b, r, hh, ww)
    idx = prob.view(b, r, -1).argmax(-1)
    cy, cx = idx // ww, idx % ww
    rad = cfg.refine_radius
    offs = torch.arange(-rad, rad + 1, device=logits.device)
    yy = (cy[..., None, None] + offs.view(1, 1, -1, 1)).clamp(0, hh - 1)
    xx = (cx[..., None, None] + offs.view(1, 1, 1, -1)).clamp(0, ww - 1)
    flat = prob.view(b, r, -1)
    win = torch.gather(flat, 2, (yy * ww + xx).view(b, r, -1)).view(b, r, 2 * rad + 1, 2 * rad + 1)
    mass = win.sum((-1, -2)).clamp(min=1e-12)
    u = (win * xx.to(win.dtype)).sum((-1, -2)) / mass
    v = (win * yy.to(win.dtype)).sum((-1, -2)) / mass
    return to_pixels(torch.stack([u, v], -1), cfg.stride), mass


# --- checkpoints -------------------------------------------------------------------
def save_checkpoint(model: PointerNet, path: str | Path, extra: dict[str, Any] | None = None) -> Path:
    """Weights (safetensors) and config (JSON) into the folder ``path``, each written atomically."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    tmp = path / (WEIGHTS_FILE + ".tmp")
    save_file({k: v.detach().contiguous() for k, v in model.state_dict().items()}, str(tmp))
    tmp.replace(path / WEIGHTS_FILE)
    cfg = {"format": FORMAT, "model": asdict(model.cfg), **(extra or {})}
    tmp = path / (CONFIG_FILE + ".tmp")
    tmp.write_text(json.dumps(cfg, indent=2, default=_jsonable) + "\n")
    tmp.replace(path / CONFIG_FILE)
    return path


def load_checkpoint(path: str | Path, device: str = "cpu") -> tuple[PointerNet, dict]:
    """(model in eval mode, the whole config.json); raises ConfigError naming what is wrong."""
    path = Path(path)
    if not (path / CONFIG_FILE).is_file() or not (path / WEIGHTS_FILE).is_file():
        raise ConfigError(f"{path} is not a pointer checkpoint (needs {CONFIG_FILE} and {WEIGHTS_FILE})")
    meta = json.loads((path / CONFIG_FILE).read_text())
    if meta.get("format") != FORMAT:
        raise ConfigError(f"{path / CONFIG_FILE}: format {meta.get('format')!r}, expected {FORMAT!r}")
    model = PointerNet(PointerConfig.from_dict(meta["model"]))
    try:
        model.load_state_dict(load_file(str(path / WEIGHTS_FILE), device=device))
    except (RuntimeError, OSError) as e:  # shapes that do not fit the config, a torn file
        raise ConfigError(f"{path / WEIGHTS_FILE} does not fit its config: {e}") from e
    return model.to(device).eval(), meta


def _jsonable(v):
    if isinstance(v, (np.integer, np.floating)):
        return v.item()
    if isinstance(v, (np.ndarray, tuple)):
        return list(v)
    raise TypeError(f"not JSON-able: {type(v).__name__}")
