"""In-process backend: any LeRobot policy checkpoint with its own pre/post-processors.

:class:`LeRobotBackend` is a :class:`agents.base.PolicyBackend` (describe / reset / predict),
the same interface as the policy client (``agents.lerobot.client``); the policy server
(``python -m agents.lerobot.serve``) serves one.

Requires the ``xvla`` extra (LeRobot 0.6.1, Python >= 3.12).  Loading goes
through LeRobot's own path (``PreTrainedConfig.from_pretrained``,
``get_policy_class(type).from_pretrained``, ``make_pre_post_processors(...,
pretrained_path=...)``); what the checkpoint declares (image keys and sizes,
state size, chunking, domain id) is read from its files and logged, never
assumed.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch
from lerobot.configs import PreTrainedConfig
from lerobot.policies.factory import get_policy_class, make_pre_post_processors
from transformers import AutoTokenizer

from agents.lerobot.contract import check_inputs

log = logging.getLogger(__name__)

TOKENIZER_SUBDIR = "tokenizer"  # where tiny offline checkpoints keep their tokenizer


def resolve_device(device: str) -> str:
    if device != "auto":
        return device
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    log.warning("no GPU found: running the policy on the CPU, which is slow for X-VLA-0.9B "
                "(seconds per chunk); consider a policy server on a GPU machine")
    return "cpu"


class LeRobotBackend:
    """``describe()`` / ``reset(seed)`` / ``predict(inputs) -> (chunk, action_dim)`` for a LeRobot checkpoint
    (a :class:`agents.base.PolicyBackend`).  Inputs that do not match what the checkpoint declares
    raise :class:`agents.lerobot.contract.PolicyInputError`."""

    def __init__(self, checkpoint: str, device: str = "auto", tokenizer_dir: str | None = None):
        self.checkpoint, self.device = str(checkpoint), resolve_device(device)
        self.policy, self.pre, self.post = load_policy(checkpoint, self.device, tokenizer_dir)

    def describe(self) -> dict:
        cfg = self.policy.config
        images = {k: list(v.shape) for k, v in cfg.input_features.items() if k.startswith("observation.images.")}
        state = cfg.input_features.get("observation.state")
        first = next(iter(images.values()), [3, 224, 224])
        return {"policy_type": cfg.type, "checkpoint": self.checkpoint, "device": self.device,
                "image_keys": list(images), "image_size": first[1:3],
                "images": {k: v[1:3] for k, v in images.items()}, "state_dim": state.shape[0] if state else None,
                "chunk_size": getattr(cfg, "chunk_size", None), "n_action_steps": getattr(cfg, "n_action_steps", 1),
                "action_dim": cfg.output_features["action"].shape[0]}

    def reset(self, seed: int | None = None) -> None:
        if seed is not None:  # flow matching samples noise: seed it per episode for reproducible rollouts
            torch.manual_seed(int(seed))
        self.policy.reset()

    def predict(self, inputs: dict) -> np.ndarray:
        check_inputs(self.describe(), inputs)
        return predict_chunk(self.policy, self.pre, self.post, inputs)

    def predict_batch(self, inputs: Sequence[dict], noise_seeds: Sequence[int | None]) -> list[np.ndarray]:
        """One chunk per observation from one batched forward pass (a
        :class:`agents.base.BatchPolicyBackend`); sampling noise per observation from its own seed."""
        facts = self.describe()
        for one in inputs:
            check_inputs(facts, one)
        with per_sample_noise(noise_seeds, self.device):
            chunks = predict_chunks(self.policy, self.pre, self.post, list(inputs))
        return list(chunks)


# --- loading --------------------------------------------------------------
def _pipeline_steps(checkpoint: str | Path, filename: str) -> list[dict]:
    """The steps of a saved processor pipeline (local folder, or the hub / its cache)."""
    path = Path(checkpoint) / filename
    if not path.is_file():
        from huggingface_hub import hf_hub_download
        path = Path(hf_hub_download(str(checkpoint), filename))
    return json.loads(path.read_text())["steps"]


def _preprocessor_overrides(steps: list[dict], device: str, tokenizer_dir: str | None) -> dict:
    """Overrides for the steps this pipeline has: the device step, and the tokenizer if given."""
    names = {step.get("registry_name") for step in steps}
    overrides: dict[str, dict] = {}
    if "device_processor" in names:
        overrides["device_processor"] = {"device": device}
    if tokenizer_dir is not None and "tokenizer_processor" in names:
        overrides["tokenizer_processor"] = {"tokenizer": AutoTokenizer.from_pretrained(tokenizer_dir)}
    return overrides


def _log_facts(cfg: PreTrainedConfig, steps: list[dict]) -> None:
    """Log what the checkpoint itself says (inputs, chunking, domain id), never a guess."""
    domain = [s["config"].get("domain_id") for s in steps if s.get("registry_name") == "xvla_add_domain_id"]
    inputs = {k: tuple(v.shape) for k, v in cfg.input_features.items()}
    log.info("policy %s: inputs %s, chunk_size %s, n_action_steps %s, domain_id %s", cfg.type, inputs,
             getattr(cfg, "chunk_size", None), getattr(cfg, "n_action_steps", None), domain or None)


def load_policy(checkpoint: str | Path, device: str = "cpu", tokenizer_dir: str | None = None):
    """Load ``(policy, preprocessor, postprocessor)`` through LeRobot's own loading path.

    ``tokenizer_dir`` replaces the tokenizer the checkpoint names (so nothing is fetched);
    if not given and ``<checkpoint>/tokenizer`` exists (tiny checkpoints), that one is used.
    """
    local_tok = Path(checkpoint) / TOKENIZER_SUBDIR
    if tokenizer_dir is None and local_tok.is_dir():
        tokenizer_dir = str(local_tok)
    cfg = PreTrainedConfig.from_pretrained(checkpoint)
    cfg.device = device
    policy = get_policy_class(cfg.type).from_pretrained(checkpoint, config=cfg)
    policy.to(device).eval()
    steps = _pipeline_steps(checkpoint, "policy_preprocessor.json")
    preprocessor, postprocessor = make_pre_post_processors(
        policy.config, pretrained_path=str(checkpoint),
        preprocessor_overrides=_preprocessor_overrides(steps, device, tokenizer_dir))
    _log_facts(policy.config, steps)
    return policy, preprocessor, postprocessor


# --- predicting ------------------------------------------------------------
def _image_to_tensor(image: np.ndarray) -> torch.Tensor:
    """HxWx3 (uint8 0-255, or float already in 0-1) -> float (3, H, W).

    Dividing here matters: ``xvla_image_to_float`` only divides by 255 when the image's max
    is > 1, so a dark 0-255 frame (max <= 1) would otherwise pass through un-scaled.
    """
    array = np.asarray(image)
    if array.ndim != 3 or array.shape[-1] != 3:
        raise ValueError(f"expected an HxWx3 image, got shape {array.shape}")
    tensor = torch.from_numpy(np.array(array, copy=True)).permute(2, 0, 1)  # writable, contiguous
    return tensor.float() / 255.0 if array.dtype == np.uint8 else tensor.float()


@contextmanager
def per_sample_noise(seeds: Sequence[int | None], device: str):
    """Within the block, a ``torch.randn`` draw whose first dimension is the batch draws each row from
    its own generator (seeded by ``seeds[i]``), so a sample's noise is what it would draw alone.

    LeRobot's flow-matching policies (X-VLA) draw their initial noise with
    ``torch.randn(batch, chunk, dims)`` from the global generator and take no noise
    argument; without this, a batched query would give each episode other noise than
    an unbatched one.  Nothing changes when a seed is None (then the global generator, as before).
    """
    if not seeds or any(s is None for s in seeds):
        yield
        return
    generators = [torch.Generator(device=device).manual_seed(int(s or 0) % 2**63) for s in seeds]
    real = torch.randn

    def randn(*size, generator=None, **kwargs):
        shape = tuple(size[0]) if len(size) == 1 and not isinstance(size[0], int) else tuple(size)
        if generator is not None or not shape or shape[0] != len(generators) or kwargs.get("out") is not None:
            return real(*size, generator=generator, **kwargs)
        kwargs.setdefault("device", device)
        return torch.cat([real(1, *shape[1:], generator=g, **kwargs) for g in generators])

    torch.randn = randn
    try:
        yield
    finally:
        torch.randn = real


def predict_chunks(policy, pre, post, observations: list[dict]) -> np.ndarray:
    """Chunks ``(batch, chunk_size, action_dim)`` for several observations in one forward pass (the keys of
    :func:`predict_chunk`, the same in each)."""
    batch: dict[str, Any] = {}
    for key in observations[0]:
        values = [o[key] for o in observations]
        if key.startswith("observation.images."):
            batch[key] = torch.stack([_image_to_tensor(v) for v in values])
        elif key.startswith("observation."):
            batch[key] = torch.as_tensor(np.stack([np.asarray(v, dtype=np.float32) for v in values]))
        else:
            batch[key] = values
    with torch.no_grad():
        actions = post(policy.predict_action_chunk(pre(batch)))
    return actions.cpu().numpy()


def predict_chunk(policy, pre, post, observation: dict) -> np.ndarray:
    """One action chunk ``(chunk_size, action_dim)`` for one observation.

    ``observation``: ``observation.images.<name>`` HxWx3 images (a missing view is padded and
    masked by X-VLA), ``observation.state`` (state_dim,), ``task`` str.
    """
    batch: dict[str, Any] = {}
    for key, value in observation.items():
        if key.startswith("observation.images."):
            batch[key] = _image_to_tensor(value)
        elif key.startswith("observation."):
            batch[key] = torch.as_tensor(np.asarray(value, dtype=np.float32))
        else:
            batch[key] = value
    with torch.no_grad():
        actions = post(policy.predict_action_chunk(pre(batch)))
    return actions.squeeze(0).cpu().numpy()
