"""`LanguageModelTrainer`: the ULMFiT recipe (`UlmfitTrainer`) for an `AwdLstmForCausalLM`.

Documents are read as fastai reads them: concatenated into one contiguous row per batch row (`LanguageModelStream`),
with the recurrent state carried from batch to batch (truncated BPTT) and reset at every epoch. AR/TAR join the loss
in training; evaluation reads its own stream from a zero state and reports loss, perplexity and next-token accuracy.
Each checkpoint saves the carried state, so a resumed run continues exactly.
"""

import math

import torch
from torch.utils.data import DataLoader
from transformers.trainer_utils import EvalLoopOutput

from ..data import LanguageModelStream
from ..models.awd_lstm import AwdLstmForCausalLM
from .checkpoints import carried_state_files, load_carried_state, save_carried_state
from .regularization import activation_regularization, temporal_activation_regularization
from .trainer import UlmfitTrainer


class LanguageModelTrainer(UlmfitTrainer):
    """Trains an `AwdLstmForCausalLM` on datasets of tokenised documents (``input_ids``)."""

    model_class = AwdLstmForCausalLM

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.lm_state = None  # the recurrent state carried from one training batch to the next
        self.train_stream = None
        self._resumed_lm_state = None

    # ---- Data -------------------------------------------------------------------------------------------------------

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
            stream,
            batch_size=None,
            collate_fn=contiguous_batch,
            num_workers=0,
            pin_memory=self.args.dataloader_pin_memory,
        )

    def get_train_dataloader(self) -> DataLoader:
        if self.train_dataset is None:
            raise ValueError("LanguageModelTrainer: training requires a train_dataset.")
        self.train_stream = self.language_model_stream(self.train_dataset, self._train_batch_size, shuffle=True)
        return self._stream_loader(self.train_stream)

    def get_eval_dataloader(self, eval_dataset=None) -> DataLoader:
        if isinstance(eval_dataset, str):
            eval_dataset = self.eval_dataset[eval_dataset]
        eval_dataset = eval_dataset if eval_dataset is not None else self.eval_dataset
        if eval_dataset is None:
            raise ValueError("LanguageModelTrainer: evaluation requires an eval_dataset.")
        return self._stream_loader(self.language_model_stream(eval_dataset, self.args.eval_batch_size, shuffle=False))

    def begin_epoch(self, epochs_done: float) -> None:
        epoch = int(epochs_done)
        self.train_stream.set_epoch(epoch)
        # A new epoch starts from zero state; a run resumed mid-epoch continues from its checkpoint's state.
        self.lm_state = self._resumed_lm_state if epochs_done != epoch else None
        self._resumed_lm_state = None

    # ---- Loss ------------------------------------------------------------------------------------------------------

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
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

    def evaluation_loop(
        self, dataloader, description, prediction_loss_only=None, ignore_keys=None, metric_key_prefix="eval"
    ):
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

    # ---- Checkpoints: the carried state of every process --------------------------------------------------------

    def checkpoint_required_files(self) -> list[str]:
        return super().checkpoint_required_files() + carried_state_files(self.args.world_size)

    def save_extra_state(self, checkpoint: str) -> None:
        super().save_extra_state(checkpoint)
        if self.lm_state is not None:
            save_carried_state(self.lm_state, checkpoint, self.args.process_index)

    def load_extra_state(self, checkpoint: str) -> None:
        super().load_extra_state(checkpoint)
        self._resumed_lm_state = load_carried_state(checkpoint, self.args.process_index, self.args.device)


def contiguous_batch(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {key: tensor.contiguous() for key, tensor in batch.items()}


def detach_state(state):
    return tuple(tuple(tensor.detach() for tensor in layer) for layer in state)
