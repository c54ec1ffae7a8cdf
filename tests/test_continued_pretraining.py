"""Pretraining that continues an LM (`pretrain --model_name_or_path`), a wall-clock budget (`--time_budget_minutes`),
and blank documents in files given to the LM stages (dropped and counted, as the named wikipedia dataset's)."""

import json
import logging
import re

import pandas as pd
import pytest
import torch
import transformers
from cli_flags import QUICK_TRAINING, TINY_MODEL
from safetensors.torch import load_file
from transformers import AutoTokenizer

from hf_ulmfit.cli.main import main
from hf_ulmfit.training import UlmfitTrainingArguments
from hf_ulmfit.training.time_budget import fit_run_to_budget, steps_in_budget


def run_cli(*argv) -> int:
    return main([str(arg) for arg in argv])


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("continued")


@pytest.fixture(scope="module")
def base_lm(workdir, data_dir):
    """A tiny LM pretrained on 4 wiki-00 articles with a word-level tokenizer."""
    out = workdir / "base"
    assert (
        run_cli(
            "pretrain",
            "--data_dir",
            data_dir,
            "--max_files",
            1,
            "--max_train_samples",
            4,
            "--max_eval_samples",
            1,
            "--tokenizer_kind",
            "word",
            *TINY_MODEL,
            "--max_steps",
            2,
            "--bptt",
            16,
            *QUICK_TRAINING,
            "--output_dir",
            out,
        )
        == 0
    )
    return out


@pytest.fixture(scope="module")
def shards_with_blanks(workdir, data_dir):
    """A folder of Wikipedia-like shards (other articles than the base LM's) with blank articles among them."""
    articles = pd.read_parquet(data_dir / "wikipedia" / "wiki-01.parquet", columns=["text"])["text"].head(8).tolist()
    folder = workdir / "shards"
    folder.mkdir()
    pd.DataFrame({"text": articles[:3] + ["", "  \n "] + articles[3:6]}).to_parquet(folder / "train.parquet")
    pd.DataFrame({"text": [articles[6], "\n", articles[7]]}).to_parquet(folder / "validation.parquet")
    return folder


def test_pretrain_continues_an_lm_with_its_tokenizer_and_drops_blank_documents(
    base_lm, shards_with_blanks, workdir, caplog
):
    out = workdir / "continued"
    with caplog.at_level(logging.INFO):
        assert (
            run_cli(
                "pretrain",
                "--model_name_or_path",
                base_lm,
                "--dataset",
                shards_with_blanks,
                "--max_steps",
                1,
                "--learning_rate",
                1e-9,  # one step this small leaves the weights where the base LM had them
                "--bptt",
                16,
                *QUICK_TRAINING,
                "--output_dir",
                out,
            )
            == 0
        )
    assert "train: removed 2 blank documents of 8" in caplog.text
    assert "validation: removed 1 blank documents of 3" in caplog.text
    record = json.loads((out / "ulmfit_run.json").read_text())
    assert record["train_documents"] == 6 and record["base_model"] == base_lm.name  # the folder name, not a local path
    assert record["training"]["max_steps"] == 1
    # The base LM's own tokenizer (not one trained on the new text) and its weights as the starting point.
    assert AutoTokenizer.from_pretrained(out).get_vocab() == AutoTokenizer.from_pretrained(base_lm).get_vocab()
    before, after = load_file(base_lm / "model.safetensors"), load_file(out / "model.safetensors")
    assert before.keys() == after.keys()
    for name in before:
        torch.testing.assert_close(after[name], before[name], atol=1e-5, rtol=0)


def test_continued_pretraining_refuses_flags_that_would_change_the_model(base_lm, shards_with_blanks, workdir, capsys):
    common = ["pretrain", "--model_name_or_path", base_lm, "--dataset", shards_with_blanks, "--max_steps", 1]
    assert run_cli(*common, "--hidden_size", 64, "--output_dir", workdir / "refused") == 1
    assert re.search(r"--hidden_size 64: the model in \S+ has hidden_size=32", capsys.readouterr().err)
    assert run_cli(*common, "--tokenizer_name_or_path", base_lm, "--output_dir", workdir / "refused") == 1
    assert "--tokenizer_name_or_path: continued pretraining keeps the tokenizer" in capsys.readouterr().err
    assert run_cli(*common, "--time_budget_minutes", 5, "--output_dir", workdir / "refused") == 2
    assert "Choose --time_budget_minutes or --max_steps" in capsys.readouterr().err
    assert not (workdir / "refused").exists()


def test_time_budget_sets_max_steps_from_the_measured_step_time(base_lm, shards_with_blanks, workdir, caplog):
    out = workdir / "budgeted"
    transformers.logging.enable_propagation()  # the Trainer's own "Total optimization steps" line, into caplog
    with caplog.at_level(logging.INFO):
        assert (
            run_cli(
                "pretrain",
                "--model_name_or_path",
                base_lm,
                "--dataset",
                shards_with_blanks,
                "--time_budget_minutes",
                0.05,  # 3 seconds
                "--log_level",
                "info",
                "--bptt",
                16,
                "--per_device_train_batch_size",
                4,
                *QUICK_TRAINING[2:],
                "--output_dir",
                out,
            )
            == 0
        )
    transformers.logging.disable_propagation()
    match = re.search(
        r"a step takes ([\d.e+-]+) s \(median of \d+, measured in \d+ s\), so the run trains (\d+)", caplog.text
    )
    assert match, caplog.text
    step_seconds, steps = float(match.group(1)), int(match.group(2))
    # the planned steps fit in the 3 s budget; the log gives the step time to 3 significant digits (0.5% off at most)
    assert 1 <= steps <= max(1, 3.0 / (step_seconds * (1 - 0.005)))
    record = json.loads((out / "ulmfit_run.json").read_text())
    assert record["training"]["max_steps"] == steps and record["training"]["time_budget_minutes"] == 0.05
    assert f"Total optimization steps = {steps:,}" in caplog.text  # the Trainer ran the planned schedule


def test_steps_in_budget_and_a_resumed_run_keeps_its_steps(tmp_path):
    assert steps_in_budget(600, 2.0) == 300
    assert steps_in_budget(600, 2.0, spent_seconds=10) == 295
    assert steps_in_budget(1, 5.0) == 1  # at least one step
    checkpoint = tmp_path / "checkpoint-40"
    checkpoint.mkdir()
    (checkpoint / "trainer_state.json").write_text(json.dumps({"max_steps": 137, "global_step": 40}))
    args = UlmfitTrainingArguments(output_dir=str(tmp_path), time_budget_minutes=30, use_cpu=True, report_to="none")

    class NoMeasuring:  # a resumed run must not measure (its schedule is the interrupted run's)
        def __init__(self, args):
            self.args = args

    assert fit_run_to_budget(NoMeasuring(args), resume_from=str(checkpoint)) == 137 and args.max_steps == 137


def test_time_budget_and_max_steps_are_exclusive(tmp_path):
    with pytest.raises(ValueError, match="Choose --time_budget_minutes or --max_steps"):
        UlmfitTrainingArguments(output_dir=str(tmp_path), time_budget_minutes=5, max_steps=10, use_cpu=True)
    with pytest.raises(ValueError, match="time_budget_minutes must be 0"):
        UlmfitTrainingArguments(output_dir=str(tmp_path), time_budget_minutes=-1, use_cpu=True)


def test_finetune_lm_reads_the_unlabelled_split_by_default_and_none_turns_it_off():
    from datasets import Dataset, DatasetDict

    from hf_ulmfit.recipes.finetune_lm import extra_text_splits

    split = Dataset.from_dict({"text": ["a review"]})
    imdb_like = DatasetDict(train=split, test=split, unsupervised=split)
    assert extra_text_splits([], imdb_like) == ["unsupervised"]
    assert extra_text_splits(["none"], imdb_like) == []
    assert extra_text_splits(["test"], imdb_like) == ["test"]
    assert extra_text_splits([], DatasetDict(train=split, test=split)) == []
