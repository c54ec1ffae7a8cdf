"""`UlmfitTrainer`: transformers' `Trainer` with ULMFiT's fine-tuning recipe.

What it adds, each in one obvious place:

- discriminative learning rates: one optimizer group per layer group (`create_optimizer`);
- slanted triangular or one-cycle schedules (`create_scheduler`);
- gradual unfreezing (`GradualUnfreezingCallback`, which freezes after the DDP wrap);
- language models: contiguous streams with the recurrent state carried across batches (truncated BPTT), reset at
  every epoch and for evaluation, AR/TAR in the training loss, loss/perplexity/accuracy evaluation, and the state
  saved with every checkpoint so a resumed run continues exactly;
- checkpoints that count only when complete: a run resumes from the newest complete one (see `checkpoints.py`);
- classifiers: length-grouped padded batches and accuracy + macro-F1 each evaluation.

Everything else (loops, gradient accumulation, clipping, bf16 autocast, DDP, checkpoints) is the Trainer's own, so the
same code runs on one CPU, one GPU or several processes launched by torchrun / accelerate.
"""

import math
import os
import shutil

import torch
from safetensors.torch import load_file, save_file
from torch.utils.data import DataLoader, SequentialSampler
from transformers import Trainer, TrainerCallback
from transformers.trainer_pt_utils import LengthGroupedSampler
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR, EvalLoopOutput

from ..data import ClassificationCollator, LanguageModelStream
from ..evaluation import classification_metrics
from ..models.awd_lstm import AwdLstmForCausalLM, AwdLstmForSequenceClassification
from .arguments import UlmfitTrainingArguments
from .checkpoints import CARRIED_STATE_FILE, carried_state_files, last_complete_checkpoint, missing_checkpoint_files
from .layer_groups import discriminative_learning_rates, layer_groups
from .regularization import activation_regularization, temporal_activation_regularization
from .schedules import one_cycle_schedule, slanted_triangular_schedule
from .unfreezing import GradualUnfreezingCallback


class UlmfitTrainer(Trainer):
    """Fine-tunes an `AwdLstmForCausalLM` (datasets of tokenised documents, ``input_ids``) or an
    `AwdLstmForSequenceClassification` (tokenised labelled datasets: ``input_ids``, ``label``, ``length``)."""

    # Our loss is a mean over each micro-batch; the Trainer divides it by the gradient accumulation steps.
    loss_is_scaled_for_ga = False

    def __init__(self, model=None, args: UlmfitTrainingArguments = None, data_collator=None, train_dataset=None,
                 eval_dataset=None, processing_class=None, compute_metrics=None, callbacks=None, **kwargs):
        if not isinstance(args, UlmfitTrainingArguments):
            raise TypeError(f"UlmfitTrainer needs UlmfitTrainingArguments, got {type(args).__name__}.")
        if not isinstance(model, (AwdLstmForCausalLM, AwdLstmForSequenceClassification)):
            raise TypeError(f"UlmfitTrainer trains AWD-LSTM language models and classifiers, got {type(model).__name__}.")
        self.is_language_model = isinstance(model, AwdLstmForCausalLM)
        if not self.is_language_model:
            if data_collator is None and processing_class is None:
                raise ValueError("A classifier's documents are padded per batch: pass processing_class=tokenizer.")
            if data_collator is None:
                data_collator = ClassificationCollator(processing_class)
            if compute_metrics is None:
                compute_metrics = classification_metrics
        super().__init__(model=model, args=args, data_collator=data_collator, train_dataset=train_dataset,
                         eval_dataset=eval_dataset, processing_class=processing_class,
                         compute_metrics=compute_metrics, callbacks=callbacks, **kwargs)
        # The models take **kwargs, which makes the Trainer pass `num_items_in_batch` and treat the loss as already
        # normalised over the accumulated batch; ours is a per-batch mean (AR/TAR included), so it must not.
        self.model_accepts_loss_kwargs = False
        self.layer_groups = layer_groups(model)
        if args.uses_freezing:
            self.add_callback(GradualUnfreezingCallback(self.layer_groups))
        if self.is_language_model:
            self.lm_state = None  # the recurrent state carried from one training batch to the next
            self.train_stream = None
            self._resumed_lm_state = None
        self.train_sampler = None
        self.add_callback(EpochStartCallback(self))

    # ---- Optimizer and schedule -------------------------------------------------------------------------------------

    def group_learning_rates(self) -> list[float]:
        """Peak learning rate of each layer group, bottom to top."""
        if self.args.group_learning_rates is not None:
            if len(self.args.group_learning_rates) != len(self.layer_groups):
                raise ValueError(
                    f"group_learning_rates has {len(self.args.group_learning_rates)} values; this model has "
                    f"{len(self.layer_groups)} layer groups."
                )
            return list(self.args.group_learning_rates)
        return discriminative_learning_rates(self.args.learning_rate, len(self.layer_groups), self.args.discriminative_lr_factor)

    def create_optimizer(self, model=None):
        """AdamW with one learning rate per layer group; weights decay (decoupled), biases and norms do not.

        Frozen parameters are included (the default optimizer drops them): they have no gradient while frozen, so
        AdamW leaves them untouched until the unfreezing callback lets them train.
        """
        if self.optimizer is None:
            decay_names = set(self.get_decay_parameter_names(self.model))
            param_groups = []
            for index, (group, lr) in enumerate(zip(self.layer_groups, self.group_learning_rates())):
                for decays in (True, False):
                    params = [p for name, p in group.items() if (name in decay_names) == decays]
                    if params:
                        weight_decay = self.args.weight_decay if decays else 0.0
                        param_groups.append({"params": params, "lr": lr, "weight_decay": weight_decay, "layer_group": index})
            self.optimizer = torch.optim.AdamW(
                param_groups, betas=(self.args.adam_beta1, self.args.adam_beta2), eps=self.args.adam_epsilon
            )
        return self.optimizer

    def create_scheduler(self, num_training_steps: int, optimizer=None):
        if self.lr_scheduler is None:
            optimizer = optimizer or self.optimizer
            if self.args.lr_schedule == "slanted_triangular":
                self.lr_scheduler = slanted_triangular_schedule(
                    optimizer, num_training_steps, self.args.stlr_cut_frac, self.args.stlr_ratio
                )
            else:
                self.lr_scheduler = one_cycle_schedule(
                    optimizer,
                    num_training_steps,
                    pct_start=self.args.one_cycle_pct_start,
                    div_factor=self.args.one_cycle_div_factor,
                    final_div_factor=self.args.one_cycle_final_div_factor,
                    momentums=tuple(self.args.one_cycle_momentums),
                )
            self._created_lr_scheduler = True  # the Trainer rebuilds it on the next train()
        return self.lr_scheduler

    def _get_learning_rate(self) -> float:
        # Logs show the top group's learning rate: the one `learning_rate` sets (the first group is the lowest).
        return self.optimizer.param_groups[-1]["lr"]

    # ---- Data -------------------------------------------------------------------------------------------------------

    def _set_signature_columns_if_needed(self):
        # Keep the `length` column: the length-grouped sampler reads it (ClassificationCollator drops it).
        super()._set_signature_columns_if_needed()
        if self.args.length_column_name not in self._signature_columns:
            self._signature_columns.append(self.args.length_column_name)

    def language_model_stream(self, documents, batch_size: int, shuffle: bool) -> LanguageModelStream:
        """This process's rows of the contiguous stream of `documents`."""
        return LanguageModelStream(
            documents,
            batch_size=batch_size,
            seq_len=self.args.bptt,
            shuffle=shuffle,
            seed=self.args.data_seed if self.args.data_seed is not None else self.args.seed,
            backwards=self.model.config.backwards,
            rank=self.args.process_index,
            world_size=self.args.world_size,
        )

    def _stream_loader(self, stream: LanguageModelStream) -> DataLoader:
        # The stream already yields whole batches and gives each rank its own rows, so the loader is not passed to
        # `accelerator.prepare` (which would re-batch and re-shard an IterableDataset); the Trainer moves the
        # tensors to the device in `_prepare_inputs`. The stream's batches are strided views of its rows; the loss
        # flattens the targets with `view`, so each batch is made contiguous (a copy of batch_size x bptt ids).
        return DataLoader(
            stream, batch_size=None, collate_fn=contiguous_batch, num_workers=0, pin_memory=self.args.dataloader_pin_memory
        )

    def get_train_dataloader(self) -> DataLoader:
        if not self.is_language_model:
            return super().get_train_dataloader()
        if self.train_dataset is None:
            raise ValueError("UlmfitTrainer: training requires a train_dataset.")
        self.train_stream = self.language_model_stream(self.train_dataset, self._train_batch_size, shuffle=True)
        return self._stream_loader(self.train_stream)

    def get_eval_dataloader(self, eval_dataset=None) -> DataLoader:
        if not self.is_language_model:
            return super().get_eval_dataloader(eval_dataset)
        if isinstance(eval_dataset, str):
            eval_dataset = self.eval_dataset[eval_dataset]
        eval_dataset = eval_dataset if eval_dataset is not None else self.eval_dataset
        if eval_dataset is None:
            raise ValueError("UlmfitTrainer: evaluation requires an eval_dataset.")
        return self._stream_loader(self.language_model_stream(eval_dataset, self.args.eval_batch_size, shuffle=False))

    def _get_train_sampler(self, train_dataset=None):
        train_dataset = train_dataset if train_dataset is not None else self.train_dataset
        column = self.args.length_column_name
        if self.args.train_sampling_strategy != "group_by_length" or column not in getattr(train_dataset, "column_names", ()):
            return super()._get_train_sampler(train_dataset)
        seed = self.args.data_seed if self.args.data_seed is not None else self.args.seed
        self.train_sampler = EpochSeededLengthGroupedSampler(
            self.args.train_batch_size * self.args.gradient_accumulation_steps, train_dataset[column], seed
        )
        return self.train_sampler

    def _get_eval_sampler(self, eval_dataset):
        # Evaluation and `predict` keep the dataset's order, so predictions line up with its rows (the Trainer would
        # shuffle them with group_by_length); only training batches are grouped by length.
        return SequentialSampler(eval_dataset) if self.args.world_size <= 1 else None

    def begin_epoch(self, epochs_done: float) -> None:
        """Called as each epoch starts; `epochs_done` is fractional when a run resumes in the middle of one."""
        epoch = int(epochs_done)
        if self.train_sampler is not None:
            self.train_sampler.set_epoch(epoch)
        if self.is_language_model:
            self.train_stream.set_epoch(epoch)
            # A new epoch starts from zero state; a run resumed mid-epoch continues from its checkpoint's state.
            self.lm_state = self._resumed_lm_state if epochs_done != epoch else None
            self._resumed_lm_state = None

    # ---- Loss ------------------------------------------------------------------------------------------------------

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        if not self.is_language_model:
            return super().compute_loss(model, inputs, return_outputs=return_outputs)
        outputs = model(**inputs, state=self.lm_state)
        # Truncated BPTT: the next batch continues these rows from this state, without back-propagating into it.
        self.lm_state = detach_state(outputs.state)
        loss = outputs.loss
        if model.training:
            loss = (
                loss
                + activation_regularization(outputs.dropped_hidden_state, self.args.ar_alpha)
                + temporal_activation_regularization(outputs.last_hidden_state, self.args.tar_beta)
            )
        return (loss, outputs) if return_outputs else loss

    # ---- Evaluation -------------------------------------------------------------------------------------------------

    def evaluation_loop(self, dataloader, description, prediction_loss_only=None, ignore_keys=None, metric_key_prefix="eval"):
        if not self.is_language_model:
            return super().evaluation_loop(dataloader, description, prediction_loss_only, ignore_keys, metric_key_prefix)
        return self.language_model_evaluation(dataloader, metric_key_prefix)

    @torch.no_grad()
    def language_model_evaluation(self, dataloader, metric_key_prefix: str = "eval") -> EvalLoopOutput:
        """Cross-entropy, perplexity and next-token accuracy over the whole evaluation stream, reading it with the
        state carried from a zero start (no dropout, no AR/TAR). Only sums leave each batch, never its logits."""
        model = self.model
        was_training = model.training
        model.eval()
        totals = torch.zeros(3, dtype=torch.float64, device=self.args.device)  # loss sum, correct, tokens
        state = None
        for inputs in dataloader:
            inputs = self._prepare_inputs(inputs)
            with self.accelerator.autocast():
                outputs = model(**inputs, state=state)
            state = outputs.state
            targets = inputs["shift_labels"]
            if self.model.config.backwards:
                targets = targets.flip(1)  # a backward model's logits come in its reading order
            num_tokens = targets.ne(-100).sum()
            totals[0] += outputs.loss.double() * num_tokens
            totals[1] += (outputs.logits.argmax(-1) == targets).sum()
            totals[2] += num_tokens
        if self.args.world_size > 1:
            totals = self.accelerator.reduce(totals, reduction="sum")
        model.train(was_training)
        loss_sum, correct, num_tokens = totals.tolist()
        if num_tokens == 0:
            raise ValueError("The evaluation stream has no tokens.")
        loss = loss_sum / num_tokens
        metrics = {
            f"{metric_key_prefix}_loss": loss,
            f"{metric_key_prefix}_perplexity": math.exp(min(loss, 700.0)),
            f"{metric_key_prefix}_accuracy": correct / num_tokens,
        }
        return EvalLoopOutput(predictions=None, label_ids=None, metrics=metrics, num_samples=int(num_tokens))

    # ---- Checkpoints and resuming ---------------------------------------------------------------------------------

    def checkpoint_required_files(self) -> list[str]:
        """Files a checkpoint of this run needs besides the Trainer's: a language model's carried state per process."""
        return carried_state_files(self.args.world_size) if self.is_language_model else []

    def last_complete_checkpoint(self) -> str | None:
        """The newest checkpoint in ``output_dir`` that a run can resume from (incomplete ones are skipped)."""
        return last_complete_checkpoint(self.args.output_dir, self.checkpoint_required_files())

    def _save_checkpoint(self, model, trial):
        """Write a checkpoint so that only a complete one counts.

        A folder of the same name (left by an interrupted save) is removed first; the carried state of every process
        is written next; then the Trainer writes its files, ``trainer_state.json`` last, so a checkpoint with a
        readable ``trainer_state.json`` holds everything (`missing_checkpoint_files`).
        """
        folder = os.path.join(self._get_output_dir(trial=trial), f"{PREFIX_CHECKPOINT_DIR}-{self.state.global_step}")
        if self.args.should_save and os.path.isdir(folder):
            shutil.rmtree(folder)
        self.accelerator.wait_for_everyone()
        if self.is_language_model and self.lm_state is not None:
            save_carried_state(self.lm_state, folder, self.args.process_index)
        self.accelerator.wait_for_everyone()
        super()._save_checkpoint(model, trial)

    def train(self, resume_from_checkpoint=None, **kwargs):
        """`Trainer.train`; ``resume_from_checkpoint=True`` resumes from the newest *complete* checkpoint, and a
        checkpoint given by path must be complete."""
        if resume_from_checkpoint is True:
            resume_from_checkpoint = self.last_complete_checkpoint()
            if resume_from_checkpoint is None:
                raise ValueError(f"No complete checkpoint found in output directory {self.args.output_dir}.")
        if resume_from_checkpoint:
            missing = missing_checkpoint_files(resume_from_checkpoint, self.checkpoint_required_files())
            if missing:
                raise ValueError(f"Cannot resume from {resume_from_checkpoint}: it has no {', '.join(missing)} "
                                 "(not a checkpoint, or one whose save was interrupted).")
        if self.is_language_model and resume_from_checkpoint:
            self._resumed_lm_state = load_carried_state(resume_from_checkpoint, self.args.process_index, self.args.device)
        return super().train(resume_from_checkpoint=resume_from_checkpoint or None, **kwargs)


class EpochStartCallback(TrainerCallback):
    """Tells the trainer an epoch starts (new data order; a language model's state goes back to zero)."""

    def __init__(self, trainer: UlmfitTrainer):
        self.trainer = trainer

    def on_epoch_begin(self, args, state, control, **kwargs):
        self.trainer.begin_epoch(state.epoch or 0.0)


class EpochSeededLengthGroupedSampler(LengthGroupedSampler):
    """transformers' length-grouped order (batches of similar length, in random order), drawn from (seed, epoch)
    alone: every process draws the same order, of which accelerate gives each its share of the batches, and a run
    resumed from a checkpoint draws that epoch's order again. (The stock sampler uses the global random generator,
    which dropout advances differently on each process.)"""

    def __init__(self, batch_size: int, lengths, seed: int):
        lengths = lengths.to_pylist() if hasattr(lengths, "to_pylist") else list(lengths)
        super().__init__(batch_size, lengths=lengths, generator=torch.Generator())
        self.seed, self.epoch = seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self):
        self.generator.manual_seed(self.seed + self.epoch)
        return super().__iter__()


def contiguous_batch(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {key: tensor.contiguous() for key, tensor in batch.items()}


def detach_state(state):
    return tuple(tuple(tensor.detach() for tensor in layer) for layer in state)


def save_carried_state(lm_state, checkpoint: str, rank: int) -> None:
    """This process's carried language-model state (its rows of the stream), saved with a checkpoint."""
    os.makedirs(checkpoint, exist_ok=True)
    tensors = {
        f"layer_{index}.{kind}": tensor[0].contiguous().cpu()
        for index, layer in enumerate(lm_state)
        for kind, tensor in zip(("h", "c"), layer)
    }
    save_file(tensors, os.path.join(checkpoint, CARRIED_STATE_FILE.format(rank=rank)))


def load_carried_state(checkpoint: str, rank: int, device) -> tuple | None:
    """The state `save_carried_state` saved for this process, or None when the checkpoint has none."""
    path = os.path.join(checkpoint, CARRIED_STATE_FILE.format(rank=rank))
    if not os.path.isfile(path):
        return None
    tensors = load_file(path, device=str(device))
    num_layers = len(tensors) // 2
    return tuple((tensors[f"layer_{i}.h"][None], tensors[f"layer_{i}.c"][None]) for i in range(num_layers))
