"""One rank of the BPT3C-under-DDP test (tests/test_trainer_distributed.py); run with
``torchrun --standalone --nproc_per_node 2 tests/distributed_classifier_script.py WORK_DIR``.

Trains the classifier the test saved in WORK_DIR on its long documents for a few steps with bf16 autocast and DDP's
strict setting (``ddp_find_unused_parameters=False``: a parameter without a gradient on some rank is an error), and
writes this rank's final weights there.
"""

import sys
from pathlib import Path

import datasets
import torch
from safetensors.torch import save_file
from transformers import AutoTokenizer

from hf_ulmfit import AwdLstmForSequenceClassification
from hf_ulmfit.training import ClassifierTrainer, UlmfitTrainingArguments


if __name__ == "__main__":
    torch.set_num_threads(1)
    work_dir = Path(sys.argv[1])
    args = UlmfitTrainingArguments(
        output_dir=str(work_dir / "trainer_output"),
        max_steps=3,
        learning_rate=1e-2,
        per_device_train_batch_size=4,
        bf16=True,
        use_cpu=True,
        ddp_find_unused_parameters=False,
        report_to=[],
        save_strategy="no",
        eval_strategy="no",
        disable_tqdm=True,
        seed=0,
    )
    trainer = ClassifierTrainer(
        model=AwdLstmForSequenceClassification.from_pretrained(work_dir / "initial_model"),
        args=args,
        train_dataset=datasets.load_from_disk(str(work_dir / "documents")),
        processing_class=AutoTokenizer.from_pretrained(work_dir / "initial_model"),
    )
    trainer.train()
    rank = trainer.args.process_index
    weights = {name: tensor.contiguous() for name, tensor in trainer.model.state_dict().items()}
    save_file(weights, str(work_dir / f"classifier_rank{rank}.safetensors"))
    torch.distributed.destroy_process_group()  # before exit: a gloo group left to exit can abort the process
