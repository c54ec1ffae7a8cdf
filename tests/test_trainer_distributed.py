"""Two CPU processes (torchrun, gloo) with gradual unfreezing train the same model on both ranks, the same model one
process trains on the same global batches, and evaluate the same metrics."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from hf_ulmfit import AwdLstmConfig, AwdLstmForCausalLM
from hf_ulmfit.data import load_text_dataset, tokenize_dataset
from hf_ulmfit.tokenization import train_tokenizer


sys.path.insert(0, str(Path(__file__).parent))
from distributed_training_script import train  # noqa: E402


SCRIPT = Path(__file__).parent / "distributed_training_script.py"
TORCHRUN = Path(sys.executable).parent / "torchrun"


@pytest.fixture(scope="module")
def work_dir(tmp_path_factory, data_dir):
    """An untrained LM without dropout (so ranks and the single process draw no random masks) and a small corpus."""
    work_dir = tmp_path_factory.mktemp("distributed")
    trec = load_text_dataset("trec", data_dir=data_dir)
    tokenizer = train_tokenizer(trec["train"], kind="unigram", vocab_size=500)
    documents = tokenize_dataset(trec, tokenizer, keep_columns=())
    documents["train"] = documents["train"].select(range(240))
    documents["test"] = documents["test"].select(range(100))
    documents.save_to_disk(str(work_dir / "documents"))
    torch.manual_seed(0)
    config = AwdLstmConfig(vocab_size=len(tokenizer), embedding_size=16, hidden_size=32, drop_mult=0.0)
    AwdLstmForCausalLM(config).save_pretrained(work_dir / "initial_model")
    return work_dir


@pytest.mark.slow
def test_two_processes_match_each_other_and_one_process(work_dir):
    environment = {**os.environ, "OMP_NUM_THREADS": "1", "ACCELERATE_USE_CPU": "1"}
    command = [str(TORCHRUN), "--standalone", "--nproc_per_node", "2", str(SCRIPT), str(work_dir), "4"]
    completed = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr[-4000:]

    rank0, rank1 = (load_file(work_dir / f"weights_rank{rank}.safetensors") for rank in (0, 1))
    metrics0, metrics1 = (json.loads((work_dir / f"metrics_rank{rank}.json").read_text()) for rank in (0, 1))
    assert metrics0["world_size"] == 2
    for name in rank0:
        assert torch.equal(rank0[name], rank1[name]), name  # DDP kept the ranks identical, frozen or not

    # One process with twice the batch reads the same rows (the two ranks' halves) in the same order.
    trainer, single_metrics = train(work_dir, per_device_batch_size=8)
    single = trainer.model.state_dict()
    initial = AwdLstmForCausalLM.from_pretrained(work_dir / "initial_model").state_dict()
    for name in rank0:
        torch.testing.assert_close(rank0[name], single[name], rtol=1e-4, atol=1e-5, msg=name)
    # Three epochs unfreeze three of the four groups: the bottom LSTM never trained, on any rank.
    for name in rank0:
        if name.startswith("awd_lstm.layers.0."):
            assert torch.equal(rank0[name], initial[name]), name
        if name.startswith("awd_lstm.layers.1."):
            assert not torch.equal(rank0[name], initial[name]), name
    # Evaluation sums over both ranks' rows: the same metrics as one process reading all of them.
    assert metrics0["eval_loss"] == metrics1["eval_loss"] == pytest.approx(single_metrics["eval_loss"], rel=1e-4)
    assert metrics0["eval_accuracy"] == pytest.approx(single_metrics["eval_accuracy"], abs=2e-3)
