"""One rank of the multi-process test (tests/test_trainer_distributed.py); run with
``torchrun --standalone --nproc_per_node 2 tests/distributed_training_script.py WORK_DIR BATCH [RESULTS_DIR]``
(or as two one-process "nodes" meeting at a c10d rendezvous).

Reads the model and the tokenised documents the test saved in WORK_DIR, trains with gradual unfreezing on CPU (gloo),
evaluates, and writes this rank's final weights (safetensors) and evaluation metrics there.
"""

import json
import sys
from pathlib import Path

import datasets
import torch
from safetensors.torch import save_file

from hf_ulmfit import AwdLstmForCausalLM
from hf_ulmfit.training import LanguageModelTrainer, UlmfitTrainingArguments


def training_arguments(output_dir, per_device_batch_size: int) -> UlmfitTrainingArguments:
    """Shared by the distributed run and the single-process reference: only the batch size per process differs."""
    return UlmfitTrainingArguments(
        output_dir=str(output_dir),
        num_train_epochs=3,
        learning_rate=1e-2,
        per_device_train_batch_size=per_device_batch_size,
        per_device_eval_batch_size=per_device_batch_size,
        bptt=20,
        gradual_unfreezing=True,
        use_cpu=True,
        report_to=[],
        save_strategy="no",
        disable_tqdm=True,
        seed=0,
    )


def train(work_dir: Path, per_device_batch_size: int):
    model = AwdLstmForCausalLM.from_pretrained(work_dir / "initial_model")
    documents = datasets.load_from_disk(str(work_dir / "documents"))
    args = training_arguments(work_dir / "trainer_output", per_device_batch_size)
    trainer = LanguageModelTrainer(
        model=model, args=args, train_dataset=documents["train"], eval_dataset=documents["test"]
    )
    trainer.train()
    return trainer, trainer.evaluate()


if __name__ == "__main__":
    torch.set_num_threads(1)
    work_dir = Path(sys.argv[1])
    results_dir = Path(sys.argv[3]) if len(sys.argv) > 3 else work_dir
    results_dir.mkdir(parents=True, exist_ok=True)
    trainer, metrics = train(work_dir, per_device_batch_size=int(sys.argv[2]))
    rank = trainer.args.process_index
    save_file(
        {n: t.contiguous() for n, t in trainer.model.state_dict().items() if n != "decoder.weight"},
        str(results_dir / f"weights_rank{rank}.safetensors"),
    )
    (results_dir / f"metrics_rank{rank}.json").write_text(
        json.dumps({**metrics, "world_size": trainer.args.world_size})
    )
    torch.distributed.destroy_process_group()  # before exit: a gloo group left to exit can abort the process
