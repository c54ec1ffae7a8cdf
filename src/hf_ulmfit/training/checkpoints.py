"""Which checkpoints a run can resume from: only complete ones.

`UlmfitTrainer` writes a checkpoint in this order: a language model's carried state (one file per process), then the
Trainer's own files, of which ``trainer_state.json`` comes last. A process killed during a save therefore leaves a
``checkpoint-N`` folder without a readable ``trainer_state.json`` (or without a process's carried state, for folders
written another way); such a folder is skipped, and the newest complete checkpoint is the one resumed from.

The carried state is saved and loaded here too (`save_carried_state`, `load_carried_state`).
"""

import json
import logging
import os
import re

from safetensors.torch import load_file, save_file
from transformers.trainer import TRAINER_STATE_NAME
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR


logger = logging.getLogger(__name__)

CARRIED_STATE_FILE = "carried_state_{rank}.safetensors"
CHECKPOINT_FOLDER = re.compile(rf"^{PREFIX_CHECKPOINT_DIR}-(\d+)$")


def carried_state_files(world_size: int) -> list[str]:
    """The carried-state files a language model's checkpoint holds, one per process."""
    return [CARRIED_STATE_FILE.format(rank=rank) for rank in range(world_size)]


def checkpoint_folders(output_dir: str | os.PathLike) -> list[str]:
    """The ``checkpoint-N`` folders in `output_dir`, newest (highest N) first."""
    if not os.path.isdir(output_dir):
        return []
    steps = {
        int(match.group(1)): name
        for name in os.listdir(output_dir)
        if (match := CHECKPOINT_FOLDER.match(name)) and os.path.isdir(os.path.join(output_dir, name))
    }
    return [os.path.join(output_dir, steps[step]) for step in sorted(steps, reverse=True)]


def missing_checkpoint_files(checkpoint: str | os.PathLike, required_files: list[str] = ()) -> list[str]:
    """What `checkpoint` lacks to be resumed from: a readable ``trainer_state.json`` and each of `required_files`."""
    missing = [name for name in required_files if not os.path.isfile(os.path.join(checkpoint, name))]
    try:
        with open(os.path.join(checkpoint, TRAINER_STATE_NAME)) as state_file:
            json.load(state_file)
    except (OSError, ValueError):
        missing.insert(0, TRAINER_STATE_NAME)
    return missing


def last_complete_checkpoint(output_dir: str | os.PathLike, required_files: list[str] = ()) -> str | None:
    """The newest complete checkpoint in `output_dir` (see `missing_checkpoint_files`); newer incomplete ones, left by
    a process killed while saving, are logged and skipped."""
    for checkpoint in checkpoint_folders(output_dir):
        missing = missing_checkpoint_files(checkpoint, required_files)
        if not missing:
            return checkpoint
        logger.warning(
            "skipping the incomplete checkpoint %s (no %s): its save was interrupted", checkpoint, ", ".join(missing)
        )
    return None


def save_carried_state(lm_state, checkpoint: str, rank: int) -> None:
    """This process's carried language-model state (its rows of the stream), saved with a checkpoint."""
    os.makedirs(checkpoint, exist_ok=True)
    tensors = {
        f"layer_{index}.{kind}": tensor[0].contiguous().cpu()
        for index, layer in enumerate(lm_state)
        for kind, tensor in zip(("h", "c"), layer)
    }
    save_file(tensors, os.path.join(checkpoint, CARRIED_STATE_FILE.format(rank=rank)))


def load_carried_state(checkpoint: str, rank: int, device) -> tuple | None:
    """The state `save_carried_state` saved for this process, or None when the checkpoint has none."""
    path = os.path.join(checkpoint, CARRIED_STATE_FILE.format(rank=rank))
    if not os.path.isfile(path):
        return None
    tensors = load_file(path, device=str(device))
    num_layers = len(tensors) // 2
    return tuple((tensors[f"layer_{i}.h"][None], tensors[f"layer_{i}.c"][None]) for i in range(num_layers))
