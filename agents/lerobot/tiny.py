"""A randomly initialised ACT checkpoint in this env's layout, saved and loaded through LeRobot's own path.

For offline tests and the batching benchmark (``scripts/bench_batch.py``): the
architecture of the published ``e2e-vs-tools`` ACT recipe by default (dim 256,
2 encoder layers, ResNet-18 backbone without pretrained weights, chunks of 20),
the inputs ``eval.record`` writes (``observation.images.primary``, the 8-D state)
and the 7-D ``ee_pose`` action, normalisation statistics of unit scale.  Its
actions mean nothing; its shapes and costs are those of the real thing.
Needs the ``xvla`` extra (LeRobot).
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from lerobot.configs.types import FeatureType, PolicyFeature
from lerobot.policies.act.configuration_act import ACTConfig
from lerobot.policies.act.modeling_act import ACTPolicy
from lerobot.policies.factory import make_pre_post_processors

log = logging.getLogger(__name__)

IMAGE_KEY, STATE_DIM, ACTION_DIM = "observation.images.primary", 8, 7


def build_act_checkpoint(out_dir: str | Path, image_size=(96, 128), dim_model: int = 256,
                         dim_feedforward: int = 1024, n_encoder_layers: int = 2, chunk_size: int = 20,
                         seed: int = 0) -> Path:
    """Write a loadable ACT checkpoint (config, weights, processors) into ``out_dir``; the same seed gives
    the same weights."""
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    h, w = image_size
    config = ACTConfig(
        input_features={IMAGE_KEY: PolicyFeature(FeatureType.VISUAL, (3, h, w)),
                        "observation.state": PolicyFeature(FeatureType.STATE, (STATE_DIM,))},
        output_features={"action": PolicyFeature(FeatureType.ACTION, (ACTION_DIM,))},
        pretrained_backbone_weights=None, dim_model=dim_model, dim_feedforward=dim_feedforward,
        n_encoder_layers=n_encoder_layers, n_vae_encoder_layers=n_encoder_layers, chunk_size=chunk_size,
        n_action_steps=chunk_size, device="cpu", push_to_hub=False)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        policy = ACTPolicy(config).eval()
    stats = {IMAGE_KEY: {"mean": torch.full((3, 1, 1), 0.5), "std": torch.full((3, 1, 1), 0.25)},
             "observation.state": {"mean": torch.zeros(STATE_DIM), "std": torch.ones(STATE_DIM)},
             "action": {"mean": torch.zeros(ACTION_DIM), "std": torch.ones(ACTION_DIM)}}
    policy.save_pretrained(out_dir)
    preprocessor, postprocessor = make_pre_post_processors(config, dataset_stats=stats)
    preprocessor.save_pretrained(out_dir)
    postprocessor.save_pretrained(out_dir)
    log.info("ACT checkpoint (%d params) written to %s", sum(p.numel() for p in policy.parameters()), out_dir)
    return out_dir
