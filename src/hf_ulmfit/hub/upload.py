"""Upload a saved model folder to the Hub (or to whatever `HF_ENDPOINT` points at)."""

import logging
from pathlib import Path

from huggingface_hub import HfApi


logger = logging.getLogger(__name__)

REQUIRED_FILES = (
    "config.json",
    "model.safetensors",
    "tokenizer.json",
    "README.md",
    "configuration_awd_lstm.py",
    "modeling_awd_lstm.py",
)


def push_folder(
    folder,
    repo_id: str,
    token: str | None = None,
    private: bool = False,
    commit_message: str = "Upload ULMFiT model with hf-ulmfit",
) -> str:
    """Create `repo_id` if needed and upload the folder's model files; returns the commit URL.

    Refuses a folder that lacks any file a user needs to load it (weights, config, model code for
    `trust_remote_code`, tokenizer, card), before touching the network. Training checkpoints stay local.
    """
    folder = Path(folder)
    missing = [name for name in REQUIRED_FILES if not (folder / name).is_file()]
    if missing:
        raise FileNotFoundError(f"{folder} is missing {missing}: save it with an hf-ulmfit stage first.")
    api = HfApi(token=token)
    api.create_repo(repo_id, private=private, exist_ok=True)
    commit = api.upload_folder(
        folder_path=folder,
        repo_id=repo_id,
        commit_message=commit_message,
        # ulmfit_arguments.json holds the run's local paths, for a re-run here to compare with: it stays local.
        ignore_patterns=[
            "checkpoint-*",
            "checkpoint-*/**",
            "runs/**",
            "*.pth",
            "*.bin",
            "*.pkl",
            "ulmfit_arguments.json",
            "*.lock",  # the output folder's lock (recipes/output_lock.py), held while a stage uploads
        ],
    )
    logger.info("uploaded %s to %s", folder, commit.commit_url)
    return commit.commit_url
