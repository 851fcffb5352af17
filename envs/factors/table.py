"""Table top: a procedural texture (wood grain, cloth, checker, noise) at a contrast, or a user's image.

The texture is compiled in only when ``table_contrast`` is off nominal; per episode its kind is drawn from
``factors.table_textures`` and its pattern from the episode's stream, written into the model's texture
memory and sent to the renderers.  The table's nominal colour is the base (a plain texture renders like
the plain table); ``table_contrast`` scales the pattern's swing around it (0: plain, 1: from black to
twice the base, clipped).  With ``table_image`` the image (resized to the texture) is blended over the
base colour with weight ``table_contrast``.
"""

from __future__ import annotations

from pathlib import Path

import mujoco
import numpy as np
from PIL import Image

from envs.errors import ConfigError
from envs.factors import Effect, FactorsConfig, register

TEXTURE = "table_pattern"
MATERIAL = "table_patterned"
SIZE_PX = 256  # texture width and height
REPEAT = (2.0, 2.0)  # texture repeats over the table top (a 0.8 x 1.0 m top: ~40-50 cm per tile)
BASE_RGB = np.array([0.62, 0.48, 0.34])  # the table's nominal colour (envs.scene: material table_wood)
# MuJoCo clamps a material's lit colour to 1 before it multiplies the texture, and the lights brighten the
# table ~1.5x: a white material would render the texture ~30% darker than the plain table.  A grey material
# at the base's brightest channel and a texture of base / grey render a plain texture like the plain table.
MATERIAL_GREY = float(BASE_RGB.max())
WOOD_RINGS = (6.0, 14.0)  # rings across the texture
CLOTH_THREADS = (24, 48)  # threads across the texture
CHECKER_SQUARES = (4, 12)  # squares across the texture
NOISE_BLOBS = (6, 24)  # noise cells across the texture (then smoothed)


def _smooth_noise(rng: np.random.Generator, cells: int) -> np.ndarray:
    coarse = rng.uniform(-1.0, 1.0, (cells, cells)).astype(np.float32)
    img = Image.fromarray(((coarse + 1.0) * 127.5).astype(np.uint8))
    img = img.resize((SIZE_PX, SIZE_PX), Image.Resampling.BICUBIC)
    return np.asarray(img, np.float32) / 127.5 - 1.0


def pattern(kind: str, rng: np.random.Generator) -> np.ndarray:
    """A (SIZE_PX, SIZE_PX) pattern in [-1, 1] of ``kind``, drawn from ``rng``."""
    y, x = np.mgrid[0:SIZE_PX, 0:SIZE_PX].astype(np.float32) / SIZE_PX
    if kind == "wood":
        rings, angle = rng.uniform(*WOOD_RINGS), rng.uniform(0.0, np.pi)
        u = x * np.cos(angle) + y * np.sin(angle)
        return np.sin(2 * np.pi * (rings * u + 0.6 * _smooth_noise(rng, 4)))
    if kind == "cloth":
        n = int(rng.integers(*CLOTH_THREADS))
        warp, weft = np.sin(2 * np.pi * n * x), np.sin(2 * np.pi * n * y)
        over = (np.floor(n * x) + np.floor(n * y)) % 2 == 0
        return np.where(over, warp, weft) * 0.8 + 0.2 * _smooth_noise(rng, 32)
    if kind == "checker":
        n = int(rng.integers(*CHECKER_SQUARES))
        return np.where((np.floor(n * x) + np.floor(n * y)) % 2 == 0, 1.0, -1.0).astype(np.float32)
    if kind == "noise":
        p = _smooth_noise(rng, int(rng.integers(*NOISE_BLOBS)))
        return p / max(float(np.abs(p).max()), 1e-6)
    raise ConfigError(f"unknown table texture {kind!r}")


@register
class TableTexture(Effect):
    stream = 2
    axes = ("table_contrast",)

    def __init__(self, config: FactorsConfig) -> None:
        super().__init__(config)
        self.user_image: np.ndarray | None = None
        if config.table_image:
            path = Path(config.table_image).expanduser()
            try:
                with Image.open(path) as im:
                    self.user_image = np.asarray(im.convert("RGB").resize((SIZE_PX, SIZE_PX)), np.float32) / 255.0
            except (OSError, ValueError) as e:
                raise ConfigError(f"factors.table_image={path} cannot be read as an image ({e}); give an "
                                  "existing PNG or JPEG file, or leave it unset for procedural textures") from e

    def build(self, spec: mujoco.MjSpec) -> None:
        plain = (BASE_RGB / MATERIAL_GREY).tolist()
        spec.add_texture(name=TEXTURE, type=mujoco.mjtTexture.mjTEXTURE_2D, builtin=mujoco.mjtBuiltin.mjBUILTIN_FLAT,
                         width=SIZE_PX, height=SIZE_PX, rgb1=plain, rgb2=plain)
        material = spec.add_material(name=MATERIAL, rgba=[MATERIAL_GREY] * 3 + [1.0], specular=0.1, shininess=0.1,
                                     texrepeat=list(REPEAT), texuniform=False)
        material.textures[mujoco.mjtTextureRole.mjTEXROLE_RGB] = TEXTURE
        spec.geom("table_top").material = MATERIAL

    def bind(self, env) -> None:
        m = env.model
        self.texid = m.texture(TEXTURE).id
        self.adr, self.size = m.tex_adr[self.texid], SIZE_PX * SIZE_PX * 3

    def reset(self, env, rng: np.random.Generator) -> None:
        c = self.config
        if self.user_image is not None:
            rgb = (1.0 - c.table_contrast) * BASE_RGB + c.table_contrast * self.user_image
        else:
            kind = c.table_textures[int(rng.integers(len(c.table_textures)))]
            rgb = BASE_RGB * (1.0 + c.table_contrast * pattern(kind, rng)[..., None])
        data = np.clip(np.rint(rgb / MATERIAL_GREY * 255.0), 0, 255).astype(np.uint8)
        env.model.tex_data[self.adr:self.adr + self.size] = data.reshape(-1)
        env.upload_texture(self.texid)
