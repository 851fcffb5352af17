"""Sensor noise on the images agents observe: Gaussian blur, JPEG compression, Gaussian pixel noise.

Applied in that order (optics, then the camera's encoder, then read-out noise), to every observed camera,
never to the third-person render of ``env.render()``.  The noise is drawn from the episode's stream in
observation order, so the same seed and the same number of observations give identical images for every
agent.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageFilter

from envs.factors import Effect, register

NOT_COMPRESSED = 100  # jpeg_quality at which images are left as rendered


def blur(image: np.ndarray, sigma_px: float) -> np.ndarray:
    return np.asarray(Image.fromarray(image).filter(ImageFilter.GaussianBlur(radius=sigma_px)))


def jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="JPEG", quality=int(quality))
    buf.seek(0)
    return np.asarray(Image.open(buf).convert("RGB"))


def add_noise(image: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    noisy = image.astype(np.float32) + rng.normal(0.0, sigma, image.shape).astype(np.float32)
    return np.clip(np.rint(noisy), 0, 255).astype(np.uint8)


@register
class SensorNoise(Effect):
    stream = 7
    axes = ("pixel_noise_sigma", "blur_px", "jpeg_quality")

    def reset(self, env, rng: np.random.Generator) -> None:
        self.rng = rng

    def image(self, camera: str, image: np.ndarray) -> np.ndarray:
        c = self.config
        if c.blur_px > 0:
            image = blur(image, c.blur_px)
        if c.jpeg_quality < NOT_COMPRESSED:
            image = jpeg(image, c.jpeg_quality)
        if c.pixel_noise_sigma > 0:
            image = add_noise(image, c.pixel_noise_sigma, self.rng)
        return image
