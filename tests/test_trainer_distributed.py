"""Two CPU processes (torchrun, gloo) with gradual unfreezing train the same model on both ranks, the same model one
process trains on the same global batches, and evaluate the same metrics."""

import json
import os
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import pytest
import torch
from distributed_training_script import train  # tests/ is on sys.path (pytest's default import mode)
from safetensors.torch import load_file

from hf_ulmfit import AwdLstmConfig, AwdLstmForCausalLM
from hf_ulmfit.data import load_text_dataset, tokenize_dataset
from hf_ulmfit.tokenization import train_tokenizer


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


# PYTHONFAULTHANDLER: a rank that aborts (a rare SIGABRT, "terminate called without an active exception", seen once
# in CI on 2 shared cores) prints its Python stack into the stderr the assertions show.
ENVIRONMENT = {**os.environ, "OMP_NUM_THREADS": "1", "ACCELERATE_USE_CPU": "1", "PYTHONFAULTHANDLER": "1"}


def run_ranks(command: list[str]) -> subprocess.CompletedProcess:
    """A torchrun launch, run once more if a rank aborted (SIGABRT). A rank of these 2-process CPU runs has aborted
    with "terminate called without an active exception" about twice in 100 launches on 2 loaded cores (the 5.6 CI leg,
    twice), while the other rank trained normally: an unexplained crash inside torch's runtime, not a result of the
    code under test. The abort is reported as a warning with its Python stacks; a second failure fails the test."""
    completed = subprocess.run(command, env=ENVIRONMENT, capture_output=True, text=True, timeout=300)
    if completed.returncode != 0 and "(SIGABRT)" in completed.stderr:
        warnings.warn(f"a rank aborted; running the launch again:\n{failure_report(completed.stderr)}")
        completed = subprocess.run(command, env=ENVIRONMENT, capture_output=True, text=True, timeout=300)
    return completed


def failure_report(stderr: str) -> str:
    """What a failed run printed that says why: the Python stacks faulthandler wrote when a rank aborted (which the
    launcher's own traceback and the list of extension modules push out of the tail), then the tail."""
    start = stderr.find("Fatal Python error")
    stacks = stderr[start : start + 4000].split("Extension modules:")[0] if start >= 0 else ""
    return f"{stacks}\n...\n{stderr[-3000:]}"


@pytest.fixture(scope="module")
def one_node_run(work_dir):
    """Two processes on one node (torchrun --standalone); their weights and metrics land in work_dir."""
    command = [str(TORCHRUN), "--standalone", "--nproc_per_node", "2", str(SCRIPT), str(work_dir), "4"]
    completed = run_ranks(command)
    assert completed.returncode == 0, failure_report(completed.stderr)
    return work_dir


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class NodeOutcome(NamedTuple):
    exit_code: int | None  # None: stopped by launch_nodes
    output: str


def launch_nodes(commands: list[list[str]], logs: Path, timeout: float = 300) -> list[NodeOutcome]:
    """Torchrun agents started together (one per "node"), each writing to a log file of its own (a pipe left unread
    while the test waits on another node can fill and stall a rank mid-collective). When one node fails, or `timeout`
    seconds pass, the nodes still running are stopped: SIGTERM, on which an agent stops its workers (each in a
    session of its own, so a SIGKILL to the agent would leave them running)."""
    logs.mkdir(parents=True, exist_ok=True)
    outputs = [logs / f"node{rank}.log" for rank in range(len(commands))]
    nodes = []
    for command, output in zip(commands, outputs):
        with output.open("w") as sink:
            nodes.append(subprocess.Popen(command, env=ENVIRONMENT, stdout=sink, stderr=subprocess.STDOUT))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        codes = [node.poll() for node in nodes]
        if None not in codes or any(code not in (None, 0) for code in codes):
            break
        time.sleep(0.5)
    stopped = [node.poll() is None for node in nodes]
    for node, stop in zip(nodes, stopped):
        if stop:
            node.terminate()
            try:
                node.wait(timeout=60)
            except subprocess.TimeoutExpired:
                node.kill()
                node.wait()
    return [
        NodeOutcome(None if stop else node.returncode, output.read_text())
        for node, stop, output in zip(nodes, stopped, outputs)
    ]


def nodes_report(outcomes: list[NodeOutcome]) -> str:
    return "\n".join(
        f"== node {rank}: {'stopped' if code is None else f'exit code {code}'}\n{failure_report(output)}"
        for rank, (code, output) in enumerate(outcomes)
    )


def run_nodes(make_commands: Callable[[], list[list[str]]], logs: Path) -> list[NodeOutcome]:
    """launch_nodes, once more (at a new rendezvous endpoint) if a rank aborted (SIGABRT, as in run_ranks) or the
    launch hung: one CI run of the two nodes hung past 300 seconds (2026-12-07, the oldest-transformers leg on 2
    shared cores), where the launch takes about 9 seconds. Either is reported as a warning with every node's output;
    a second failure fails the test."""
    outcomes = launch_nodes(make_commands(), logs / "first")
    codes = [outcome.exit_code for outcome in outcomes]
    aborted = any("(SIGABRT)" in outcome.output for outcome in outcomes)
    hung = None in codes and all(code in (None, 0) for code in codes)
    if aborted or hung:
        warnings.warn(f"a rank aborted or the launch hung; running it again:\n{nodes_report(outcomes)}")
        outcomes = launch_nodes(make_commands(), logs / "second")
    return outcomes


@pytest.mark.slow
def test_two_nodes_meeting_at_a_rendezvous_train_what_one_node_trains(work_dir, one_node_run):
    """Two one-process "nodes" (two torchrun agents meeting at a c10d rendezvous on localhost, as two machines would
    at their rendezvous endpoint) end with the weights of one node running two processes."""
    results = work_dir / "two_nodes"

    def commands() -> list[list[str]]:
        endpoint = f"127.0.0.1:{free_port()}"
        return [
            [
                str(TORCHRUN),
                "--nnodes",
                "2",
                "--nproc_per_node",
                "1",
                "--node_rank",
                str(rank),
                "--rdzv_backend",
                "c10d",
                "--rdzv_endpoint",
                endpoint,
                "--rdzv_id",
                "hf-ulmfit-test",
                str(SCRIPT),
                str(work_dir),
                "4",
                str(results),
            ]  # fmt: skip
            for rank in (0, 1)
        ]

    outcomes = run_nodes(commands, work_dir / "two_nodes_logs")
    assert all(outcome.exit_code == 0 for outcome in outcomes), nodes_report(outcomes)
    assert json.loads((results / "metrics_rank0.json").read_text())["world_size"] == 2
    one_node = load_file(one_node_run / "weights_rank0.safetensors")
    for rank in (0, 1):
        two_nodes = load_file(results / f"weights_rank{rank}.safetensors")
        assert two_nodes.keys() == one_node.keys()
        for name in one_node:
            assert torch.equal(two_nodes[name], one_node[name]), name


@pytest.mark.slow
def test_two_processes_match_each_other_and_one_process(work_dir, one_node_run):
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


CLASSIFIER_SCRIPT = Path(__file__).parent / "distributed_classifier_script.py"


@pytest.mark.slow
def test_bpt3c_classifier_trains_under_ddp_with_bf16_autocast_on_long_documents(tmp_path, data_dir):
    """IMDb reviews of hundreds of tokens, read in 16-token chunks of which only those in the last 32 tokens keep
    gradients: most of each document runs without them (pytorch#79841's shape), under bf16 autocast and DDP's strict
    unused-parameter check. Both ranks finish with the same, trained weights."""
    from hf_ulmfit import AwdLstmConfig, AwdLstmForSequenceClassification

    reviews = load_text_dataset("imdb", data_dir=data_dir)["train"].shuffle(seed=0).select(range(16))
    tokenizer = train_tokenizer(reviews, kind="word", vocab_size=400)
    documents = tokenize_dataset(reviews, tokenizer, keep_columns=("label",))
    assert min(documents["length"]) > 2 * 32  # every document runs chunks outside the pooled window (no gradient)
    documents.save_to_disk(str(tmp_path / "documents"))
    torch.manual_seed(0)
    config = AwdLstmConfig(
        vocab_size=len(tokenizer), embedding_size=16, hidden_size=32, num_layers=2, num_labels=2, bptt=16, max_len=32
    )
    AwdLstmForSequenceClassification(config).save_pretrained(tmp_path / "initial_model")
    tokenizer.save_pretrained(tmp_path / "initial_model")
    command = [str(TORCHRUN), "--standalone", "--nproc_per_node", "2", str(CLASSIFIER_SCRIPT), str(tmp_path)]
    completed = run_ranks(command)
    assert completed.returncode == 0, failure_report(completed.stderr)
    rank0, rank1 = (load_file(tmp_path / f"classifier_rank{rank}.safetensors") for rank in (0, 1))
    initial = AwdLstmForSequenceClassification.from_pretrained(tmp_path / "initial_model").state_dict()
    parameters = dict(AwdLstmForSequenceClassification(config).named_parameters())
    # DDP keeps parameters identical; BatchNorm's running statistics are rank 0's broadcast plus each rank's own last
    # batch, so they may differ (only rank 0 saves).
    for name in parameters:
        assert torch.equal(rank0[name], rank1[name]), name
    for name in ("awd_lstm.embeddings.weight", "awd_lstm.layers.0.weight_hh", "head.blocks.1.linear.weight"):
        assert not torch.equal(rank0[name], initial[name]), name  # trained, the encoder included


def test_distributed_script_passes_the_multi_machine_settings_to_torchrun():
    script = Path(__file__).resolve().parents[1] / "scripts" / "train_distributed.sh"
    settings = {"NNODES": "2", "RDZV_ENDPOINT": "host0:29400", "NODE_RANK": "1", "RDZV_ID": "job7", "CPU": "1"}
    environment = {**os.environ, **settings, "DRY_RUN": "1"}
    command = ["bash", str(script), "3", "train-classifier", "--dataset", "trec"]
    printed = subprocess.run(command, env=environment, capture_output=True, text=True, check=True).stdout.split()
    assert Path(printed[0]).name == "torchrun"
    launch = " ".join(printed[1 : printed.index(str(script.parent / "run_hf_ulmfit.py"))])
    assert launch == (
        "--nnodes 2 --nproc_per_node 3 --rdzv_backend c10d --rdzv_endpoint host0:29400 --rdzv_id job7 --node_rank 1"
    )
    assert printed[-5:] == ["train-classifier", "--dataset", "trec", "--use_cpu", "true"]
    missing = subprocess.run(command, env={**environment, "RDZV_ENDPOINT": ""}, capture_output=True, text=True)
    assert missing.returncode != 0 and "RDZV_ENDPOINT" in missing.stderr
