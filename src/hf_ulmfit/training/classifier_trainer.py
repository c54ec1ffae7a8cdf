"""`ClassifierTrainer`: the ULMFiT recipe (`UlmfitTrainer`) for an `AwdLstmForSequenceClassification`.

Training batches hold documents of similar length (`EpochSeededLengthGroupedSampler`), padded per batch by
`ClassificationCollator`; evaluation keeps the dataset's order and reports accuracy and macro-F1.
"""

import torch
import torch.nn.functional as F
from torch.utils.data import SequentialSampler
from transformers.trainer_pt_utils import LengthGroupedSampler

from ..data import ClassificationCollator
from ..evaluation import metrics_for
from ..models.awd_lstm import AwdLstmForSequenceClassification
from .trainer import UlmfitTrainer


class ClassifierTrainer(UlmfitTrainer):
    """Fine-tunes an `AwdLstmForSequenceClassification` on tokenised labelled datasets (``input_ids``, ``label``,
    ``length``)."""

    model_class = AwdLstmForSequenceClassification
    train_sampler = None  # the length-grouped sampler of the current run, told each epoch as it starts

    def __init__(self, model=None, args=None, *trainer_args, class_weights=None, **kwargs):
        """`class_weights` (a `(num_labels,)` tensor, optional): per-class weights of the cross-entropy loss
        (single-label), or the positive-example weights of each label's BCE loss (multi-label)."""
        if model is not None:
            self.default_compute_metrics = metrics_for(model.config)
        if class_weights is not None and model is not None:
            if model.config.problem_type == "regression":
                raise ValueError("class weights weigh classes; a regression target has none.")
            class_weights = torch.as_tensor(class_weights, dtype=torch.float32)
            if class_weights.shape != (model.config.num_labels,):
                raise ValueError(
                    f"{class_weights.numel()} class weights for {model.config.num_labels} labels: give one per label."
                )
        self.class_weights = class_weights
        super().__init__(model, args, *trainer_args, **kwargs)

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        """The model's own loss, or with `class_weights` the weighted cross-entropy (BCE for multi-label)."""
        if self.class_weights is None:
            return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
        labels = inputs.pop("labels")
        outputs = model(**inputs)
        logits = outputs.logits.float()
        weights = self.class_weights.to(logits.device)
        if labels.dim() == 2:  # multi-hot rows
            loss = F.binary_cross_entropy_with_logits(logits, labels.to(logits.dtype), pos_weight=weights)
        else:
            loss = F.cross_entropy(logits, labels, weight=weights)
        return (loss, outputs) if return_outputs else loss

    def default_data_collator(self, processing_class):
        if processing_class is None:
            raise ValueError("A classifier's documents are padded per batch: pass processing_class=tokenizer.")
        return ClassificationCollator(processing_class)

    def _set_signature_columns_if_needed(self):
        # Keep the `length` column: the length-grouped sampler reads it (ClassificationCollator drops it).
        super()._set_signature_columns_if_needed()
        if self.args.length_column_name not in self._signature_columns:
            self._signature_columns.append(self.args.length_column_name)

    def _get_train_sampler(self, train_dataset=None):
        train_dataset = train_dataset if train_dataset is not None else self.train_dataset
        column = self.args.length_column_name
        if self.args.train_sampling_strategy != "group_by_length" or column not in getattr(
            train_dataset, "column_names", ()
        ):
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
        if self.train_sampler is not None:
            self.train_sampler.set_epoch(int(epochs_done))


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
