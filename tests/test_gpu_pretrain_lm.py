"""scripts/gpu_pretrain_lm.py: the one-call GPU pretraining script, dry run on the CPU with a tiny model."""

import importlib.util
import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM, AutoTokenizer


SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "gpu_pretrain_lm.py"


@pytest.fixture(scope="module")
def script():
    spec = importlib.util.spec_from_file_location("gpu_pretrain_lm", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_prepare_fits_whole_shards_and_the_held_out_articles_in_the_input_budget(script, data_dir, tmp_path):
    source = data_dir / "wikipedia"
    shard = (source / "wiki-00.parquet").stat().st_size
    summary = script.main(["prepare", "--source", str(source), "--out", str(tmp_path), "--input_mib", "30"])
    # 30 MiB hold the 300 held-out articles and two ~13.8 MiB shards, not three
    assert (
        summary["shards"] == ["wiki-00.parquet", "wiki-01.parquet"] and 2 * shard / 2**20 < summary["input_mib"] <= 30
    )
    import pyarrow.parquet as pq

    assert pq.read_metadata(tmp_path / "wikipedia" / "wiki-07.parquet").num_rows == 300


@pytest.mark.slow
def test_dry_run_trains_reports_and_writes_small_fp16_shards(script, data_dir, tmp_path, capsys):
    data, out = tmp_path / "data", tmp_path / "lm"
    script.main(
        [
            "prepare",
            "--source",
            str(data_dir / "wikipedia"),
            "--out",
            str(data),
            "--max_articles",
            "8",
            "--max_shards",
            "2",
        ]
    )
    capsys.readouterr()
    report = script.main(
        [
            "train",
            "--dry-run",
            "--data",
            str(data),
            "--out",
            str(out),
            "--minutes",
            "0.25",
            "--reserve_minutes",
            "0.2",
            "--max_shard_mib",
            "0.01",
        ]
    )
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1]) == report
    assert report["dry_run"] and report["device"] == "cpu" and report["train_documents"] == 16 - 1  # 1% validation
    assert report["trained_steps"] >= 1 and report["tokens_per_second"] > 0
    assert 0 < report["mfu_of_measured_peak"] < 1
    test = report["held_out_test"]
    assert 1 < test["perplexity"] < test["word_perplexity"] < float("inf")
    files = {entry["file"]: entry["mib"] for entry in report["output_files"]}
    shards = [name for name in files if name.endswith(".safetensors")]
    assert len(files) <= 8 and len(shards) >= 2 and "model.safetensors.index.json" in files
    assert all(files[name] <= 0.01 for name in shards)
    for name in shards:
        assert {tensor.dtype for tensor in load_file(out / name).values()} == {torch.float16}
    model = AutoModelForCausalLM.from_pretrained(out)
    tokenizer = AutoTokenizer.from_pretrained(out)
    assert model.config.embedding_size == 16 and len(tokenizer) == model.config.vocab_size
