"""A small learned pointer: image (+ the instruction's colour words) -> one heatmap per object role -> pixels.

The bench's own tiny "embodied reasoning" model, trained on CPU from the oracle's demonstrations
(``eval.record`` writes the pixel labels beside the LeRobotDataset, :mod:`eval.labels`):

- ``model.py``: :class:`PointerConfig`, :class:`PointerNet` (a small U-Net, FiLM-conditioned on the colours the
  instruction names per role), heatmap decoding, checkpoints (safetensors weights + JSON config);
- ``data.py``: frames from the LeRobotDataset (LeRobot's loader) joined with ``labels.jsonl``;
- ``train.py``: ``python -m agents.pointer.train --dataset <record out_dir> --steps N --out <dir>``.

The tool agent uses it through :class:`agents.tool.learned.LearnedReasoner` (``agent=learned``).  Everything here
needs PyTorch (and ``safetensors``); training also LeRobot: run it in the LeRobot environment (``.venv-xvla``).
This package's ``__init__`` imports neither, so importing it never fails.
"""
