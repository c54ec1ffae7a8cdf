"""Test-wide settings: offline, the shared local datasets, and few threads (CI has 2 cores)."""

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("HF_ULMFIT_DATA", str(REPO_ROOT.parent / "shared" / "data"))
for offline_flag in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
    os.environ.setdefault(offline_flag, "1")

import torch  # noqa: E402  (after the environment is set)

torch.set_num_threads(min(2, os.cpu_count() or 1))


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The folder with the shared Parquet datasets (../shared/data unless HF_ULMFIT_DATA says otherwise)."""
    path = Path(os.environ["HF_ULMFIT_DATA"])
    if not path.is_dir():
        pytest.fail(f"dataset folder {path} not found; set HF_ULMFIT_DATA to the shared data folder")
    return path
