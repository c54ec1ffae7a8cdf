"""The package as users install it: a wheel (not an editable checkout) in a fresh venv, used offline.

The fresh venv borrows the test venv's third-party packages (a `.pth` line), so nothing is downloaded, but it
holds hf-ulmfit only as the wheel installed it; the checkout's `src/` is not on its path.
"""

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from cli_flags import QUICK_TRAINING


REPO_ROOT = Path(__file__).resolve().parents[1]


def _run(command, cwd, **kwargs):
    result = subprocess.run([str(part) for part in command], cwd=cwd, capture_output=True, text=True, **kwargs)
    assert result.returncode == 0, f"{command} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


@pytest.fixture(scope="module")
def wheel_venv(tmp_path_factory):
    """A venv with hf-ulmfit installed from a freshly built wheel, and the test venv's dependencies."""
    root = tmp_path_factory.mktemp("wheel")
    # Built from a copy of what the wheel is made of, so the build leaves nothing (build/, *.egg-info) in the checkout.
    source = root / "source"
    shutil.copytree(REPO_ROOT / "src", source / "src", ignore=shutil.ignore_patterns("*.egg-info", "__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO_ROOT / name, source / name)
    _run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", root / "dist", source],
        cwd=root,
    )
    (wheel,) = (root / "dist").glob("hf_ulmfit-*.whl")
    venv = root / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", venv], cwd=root)
    python = venv / "bin" / "python"
    site_packages = Path(
        _run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], cwd=root).stdout.strip()
    )
    # Third-party packages from the test venv; its editable hf-ulmfit hook (a .pth file there) is not processed.
    (site_packages / "borrowed.pth").write_text(sysconfig.get_path("purelib") + "\n")
    _run(
        [sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index", "-q", wheel], cwd=root
    )
    return venv


def test_the_wheel_ships_the_model_card_templates_and_not_the_checkout(wheel_venv, tmp_path):
    location = _run(
        [wheel_venv / "bin" / "python", "-c", "import hf_ulmfit; print(hf_ulmfit.__file__)"], cwd=tmp_path
    ).stdout.strip()
    assert Path(location).is_relative_to(wheel_venv), location
    assert sorted(p.name for p in (Path(location).parent / "model_cards").glob("*.md")) == [
        "classifier.md",
        "language_model.md",
    ]


@pytest.mark.slow
def test_a_wheel_install_trains_evaluates_and_serves_a_classifier_offline(wheel_venv, tmp_path, data_dir):
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "PYTHONPATH": "",
    }
    cli = wheel_venv / "bin" / "hf-ulmfit"
    out = tmp_path / "classifier"
    _run(
        [
            cli,
            "train-classifier",
            "--dataset",
            "trec",
            "--data_dir",
            data_dir,
            "--max_train_samples",
            200,
            "--max_eval_samples",
            50,
            "--embedding_size",
            16,
            "--hidden_size",
            32,
            "--vocab_size",
            500,
            "--num_train_epochs",
            1,
            *QUICK_TRAINING,
            "--output_dir",
            out,
        ],
        cwd=tmp_path,
        env=env,
    )
    card = (out / "README.md").read_text()
    assert "model-index" in card and "ulmfit" in card
    _run(
        [
            cli,
            "evaluate",
            "--model_name_or_path",
            out,
            "--dataset",
            "trec",
            "--data_dir",
            data_dir,
            "--split",
            "test",
            "--max_eval_samples",
            50,
        ],
        cwd=tmp_path,
        env=env,
    )
    assert any(out.glob("eval_results*.json")), sorted(p.name for p in out.iterdir())
    script = (
        "import hf_ulmfit.models, json, sys; from transformers import pipeline; "
        "print(json.dumps(pipeline('text-classification', model=sys.argv[1], device='cpu')('Who wrote Hamlet ?')))"
    )
    predictions = json.loads(
        _run([wheel_venv / "bin" / "python", "-c", script, out], cwd=tmp_path, env=env).stdout.strip().splitlines()[-1]
    )
    labels = json.loads((out / "config.json").read_text())["id2label"].values()
    assert predictions[0]["label"] in labels and 0.0 < predictions[0]["score"] <= 1.0
