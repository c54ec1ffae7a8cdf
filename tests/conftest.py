"""Test-wide settings: offline, the shared local datasets, and few threads (CI has 2 cores)."""

import os
from pathlib import Path

import pytest


REPO_ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("HF_ULMFIT_DATA", str(REPO_ROOT.parent / "shared" / "data"))
for offline_flag in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
    os.environ.setdefault(offline_flag, "1")
os.environ.setdefault("USE_HUB_KERNELS", "NO")  # transformers 5.25 would kernelize every from_pretrained from the Hub
# Tests use tiny models, where a second thread buys nothing and costs a barrier per LSTM time step. With other
# processes on the cores (two ranks of a distributed test, a parallel job), OpenMP threads that spin-wait at those
# barriers made a tiny LSTM 400x slower (measured: 841 ms against 1.8 ms a step). One thread per process, and
# threads that sleep rather than spin, keep the suite fast; subprocesses inherit both through the environment.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402  (after the environment is set)


torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The folder with the shared Parquet datasets (../shared/data unless HF_ULMFIT_DATA says otherwise)."""
    path = Path(os.environ["HF_ULMFIT_DATA"])
    if not path.is_dir():
        pytest.fail(f"dataset folder {path} not found; set HF_ULMFIT_DATA to the shared data folder")
    return path


@pytest.fixture(scope="session")
def trec(data_dir):
    """TREC-6 from the shared data (train, test), loaded once for the test files that train on it."""
    from hf_ulmfit.data import load_text_dataset

    return load_text_dataset("trec", data_dir=data_dir)


@pytest.fixture(scope="session")
def tokenizer(trec):
    """A 400-piece unigram tokenizer trained on the first 1,000 TREC questions, for tests of tiny models (a test file
    that needs another one defines its own `tokenizer`)."""
    from hf_ulmfit.tokenization import train_tokenizer

    return train_tokenizer(trec["train"].select(range(1000)), kind="unigram", vocab_size=400)
