"""A tiny, randomly initialised X-VLA checkpoint built offline (for tests of the real loading path).

Import this only inside the LeRobot environment (``.venv-xvla``): it imports torch,
lerobot, transformers and tokenizers at top level.

What is REAL (LeRobot 0.6.1's own code, nothing re-implemented or patched):
  * the policy class ``XVLAPolicy`` / ``XVLAConfig`` (Florence-2 encoder from
    ``transformers`` + soft-prompted action transformer, ``ee6d`` action space);
  * the processor pipelines, built by LeRobot's factory
    ``make_pre_post_processors(config)`` (rename, batch, tokenizer, image->float,
    ImageNet normalise, domain id 0, device, identity normaliser / unnormaliser,
    to-cpu) and saved as ``policy_preprocessor.json`` / ``policy_postprocessor.json``;
  * the save / load path (``agents/lerobot/backend.py``): ``policy.save_pretrained`` (``config.json`` +
    ``model.safetensors``), ``PreTrainedConfig.from_pretrained``,
    ``get_policy_class(type).from_pretrained`` and
    ``make_pre_post_processors(cfg, pretrained_path=...)`` -- the same calls that load
    a hub checkpoint such as ``lerobot/xvla-widowx``.

What is TINY / FAKE:
  * the weights: random (seeded), about 0.5 M parameters, so the actions are noise;
  * the tokenizer: a lowercase WordLevel vocabulary of a few dozen instruction words
    (``tokenizers`` library, wrapped as ``PreTrainedTokenizerFast``) saved under
    ``<checkpoint>/tokenizer`` instead of ``facebook/bart-large``; its absolute path is
    recorded as ``tokenizer_name`` (in ``config.json`` and the preprocessor's tokenizer
    step), in the slot where a hub checkpoint names ``facebook/bart-large``;
  * the Florence-2 sizes (2 DaViT stages, 1-layer BART encoder, 64-d) and the head
    (64-d, depth 1), chunk of 8 actions, 2 denoising steps.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import torch
from lerobot.configs import FeatureType, PolicyFeature
from lerobot.policies.factory import make_pre_post_processors
from lerobot.policies.xvla.configuration_xvla import XVLAConfig
from lerobot.policies.xvla.modeling_xvla import XVLAPolicy
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
from transformers import PreTrainedTokenizerFast

from agents.lerobot.backend import TOKENIZER_SUBDIR
from agents.lerobot.contract import STATE_KEY
from agents.xvla.contract import IMAGE2_KEY, IMAGE_KEY

log = logging.getLogger(__name__)

ACTION_DIM = 20  # ee6d: xyz, 6-D rotation, gripper (x2 arms)
SPECIAL_TOKENS = ("<s>", "<pad>", "</s>", "<unk>")  # BART's order: bos 0, pad 1, eos 2, unk 3
WORDS = (
    "pick up put place move push lift grasp grab open close stack unstack the a an it and then "
    "to on onto in into of at from top left right front back side near next over under "
    "red blue green yellow orange purple white black gray pink block blocks cube cubes box "
    "target targets goal bowl plate cup mug drawer gripper table object objects "
    "first second third one two three . ,"
).split()

TINY: dict[str, Any] = {
    "chunk_size": 8, "n_action_steps": 4, "num_denoising_steps": 2, "tokenizer_max_length": 16,
    "hidden_size": 64, "depth": 1, "num_heads": 2, "len_soft_prompts": 8, "max_state_dim": 20,
    "max_action_dim": ACTION_DIM, "action_mode": "ee6d", "device": "cpu", "dtype": "float32",
}


# --- building --------------------------------------------------------------
def build_tiny_tokenizer(max_length: int = 16) -> PreTrainedTokenizerFast:
    """A lowercase whitespace/punctuation WordLevel tokenizer with BART-style ``<s> ... </s>``."""
    vocab = {tok: i for i, tok in enumerate(dict.fromkeys((*SPECIAL_TOKENS, *WORDS)))}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", vocab["<s>"]), ("</s>", vocab["</s>"])])
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", pad_token="<pad>",
                                   unk_token="<unk>", model_max_length=max_length)


def _feature_side(pixels: int, strides=(4, 2)) -> int:
    """Side of the DaViT feature map: each conv stage (padding k//2) gives ceil(side / stride)."""
    for stride in strides:
        pixels = math.ceil(pixels / stride)
    return pixels


def _round_up(n: int, minimum: int = 128) -> int:
    """The next power of two >= n (at least ``minimum``)."""
    return max(minimum, 2 ** math.ceil(math.log2(n)))


def tiny_florence_config(tokenizer: PreTrainedTokenizerFast, side: int, text_positions: int) -> dict[str, Any]:
    """Two DaViT stages (32, 64) projected to 64-d, and a 1-layer 64-d BART of the tokenizer's vocab.

    ``side``: the vision feature map's side; ``text_positions``: the BART encoder's length
    (the primary view's image tokens followed by the instruction tokens).
    """
    vision = {
        "depths": [1, 1], "patch_size": [7, 3], "patch_stride": [4, 2], "patch_padding": [3, 1],
        "patch_prenorm": [False, True], "embed_dim": [32, 64], "num_heads": [2, 4], "num_groups": [2, 4],
        "window_size": 4, "projection_dim": 64, "drop_path_rate": 0.0,
        "max_position_embeddings": max(16, side), "max_temporal_embeddings": 4,
    }
    text = {
        "vocab_size": len(tokenizer), "d_model": 64, "encoder_layers": 1, "decoder_layers": 1,
        "encoder_attention_heads": 2, "decoder_attention_heads": 2, "encoder_ffn_dim": 128,
        "decoder_ffn_dim": 128, "max_position_embeddings": text_positions, "pad_token_id": tokenizer.pad_token_id,
        "bos_token_id": tokenizer.bos_token_id, "eos_token_id": tokenizer.eos_token_id,
        "decoder_start_token_id": tokenizer.eos_token_id,
    }
    return {"vision_config": vision, "text_config": text}


def tiny_xvla_config(tokenizer: PreTrainedTokenizerFast, tokenizer_name: str, image_size=(64, 64),
                     state_dim: int = 8) -> XVLAConfig:
    """``XVLAConfig`` for two (3, H, W) views, a (state_dim,) state and a 20-d ee6d action."""
    height, width = image_size
    side = max(height, width)
    resize = None if height == width else (side, side)  # the vision feature map must be square
    tokens_per_view = 1 + _feature_side(side) ** 2  # spatial mean token + one per feature-map cell
    encoder_len = tokens_per_view + TINY["tokenizer_max_length"]
    seq = TINY["chunk_size"] + encoder_len + tokens_per_view  # actions, encoder output, second view
    visual = PolicyFeature(type=FeatureType.VISUAL, shape=(3, height, width))
    return XVLAConfig(
        florence_config=tiny_florence_config(tokenizer, _feature_side(side), _round_up(encoder_len)),
        tokenizer_name=tokenizer_name, resize_imgs_with_padding=resize,
        max_len_seq=_round_up(seq), **TINY,
        input_features={IMAGE_KEY: visual, IMAGE2_KEY: visual,
                        STATE_KEY: PolicyFeature(type=FeatureType.STATE, shape=(state_dim,))},
        output_features={"action": PolicyFeature(type=FeatureType.ACTION, shape=(ACTION_DIM,))},
    )


def build_tiny_policy(config: XVLAConfig, seed: int = 0) -> XVLAPolicy:
    """A randomly initialised ``XVLAPolicy``; the same seed gives the same weights."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        policy = XVLAPolicy(config)
    return policy.eval()


def build_tiny_checkpoint(out_dir: str | Path, image_size=(64, 64), state_dim: int = 8, seed: int = 0) -> Path:
    """Write a loadable tiny X-VLA checkpoint (config, weights, processors, tokenizer) into ``out_dir``."""
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tiny_tokenizer(TINY["tokenizer_max_length"])
    tokenizer_dir = out_dir / TOKENIZER_SUBDIR
    tokenizer.save_pretrained(tokenizer_dir)
    config = tiny_xvla_config(tokenizer, str(tokenizer_dir), tuple(image_size), state_dim)
    policy = build_tiny_policy(config, seed)
    policy.save_pretrained(out_dir)
    # LeRobot's own factory; with no pretrained_path it ignores preprocessor_overrides and loads
    # the tokenizer by config.tokenizer_name, which is why the tokenizer is saved first.
    preprocessor, postprocessor = make_pre_post_processors(config, dataset_stats=None)
    preprocessor.save_pretrained(out_dir)
    postprocessor.save_pretrained(out_dir)
    n_params = sum(p.numel() for p in policy.parameters())
    log.info("tiny X-VLA checkpoint (%d params, vocab %d) written to %s", n_params, len(tokenizer), out_dir)
    return out_dir
