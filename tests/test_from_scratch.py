"""Classifiers trained from scratch (issue 28): the recipe train-classifier uses without a language model, and the
encoder variants offered for them, a GRU cell (`rnn_type="gru"`; the model tests of test_modeling_awd_lstm.py run over
every rnn_type) and a bidirectional classifier encoder."""

import json

import pytest
import torch
from cli_flags import QUICK_TRAINING, TINY_MODEL
from tiny_models import random_ids, tiny_config
from torch import nn
from transformers import AutoModelForSequenceClassification

from hf_ulmfit import AwdLstmForCausalLM, AwdLstmForSequenceClassification
from hf_ulmfit.cli.main import main
from hf_ulmfit.models.awd_lstm.modeling_awd_lstm import WeightDroppedGru
from hf_ulmfit.training.layer_groups import layer_groups


# The widths the shapes below assert (8 and 12), and bptt 5 with max_len 15: a 13-token document runs in 3 chunks.
SIZES = dict(embedding_size=8, hidden_size=12, num_layers=2, bptt=5, max_len=15, num_labels=3)


def test_gru_layer_is_torch_gru_with_dropconnect_on_its_recurrent_weights():
    torch.manual_seed(0)
    layer = WeightDroppedGru(5, 7, weight_dropout=0.5).eval()
    for weight in (layer.weight_ih, layer.weight_hh, layer.bias_ih, layer.bias_hh):
        nn.init.uniform_(weight, -0.5, 0.5)
    reference = nn.GRU(5, 7, batch_first=True)
    reference.load_state_dict({f"{name}_l0": value for name, value in layer.state_dict().items()})
    hidden = torch.randn(3, 9, 5)
    initial = layer.initial_state(3, hidden)
    assert len(initial) == 1 and initial[0].shape == (1, 3, 7)
    output, (h,) = layer(hidden, initial)
    expected, expected_h = reference(hidden)
    torch.testing.assert_close(output, expected)
    torch.testing.assert_close(h, expected_h)
    # Padded rows stop at their length: row 1's state is its state after 4 steps.
    output, (h,) = layer(hidden, initial, lengths=torch.tensor([9, 4, 6]))
    torch.testing.assert_close(h[:, 1], reference(hidden[1:2, :4])[1][:, 0])
    assert bool((output[1, 4:] == 0).all())
    # In training, DropConnect zeroes recurrent weights (half of them here), not input weights.
    layer.train()
    weight_ih, weight_hh, *_ = layer.dropped_weights()
    assert torch.equal(weight_ih, layer.weight_ih)
    assert 0.3 < float((weight_hh == 0).float().mean()) < 0.7


def test_gru_classifier_has_three_gates_and_trains():
    model = AwdLstmForSequenceClassification(tiny_config(**SIZES, rnn_type="gru"))
    assert isinstance(model.awd_lstm.layers[0], WeightDroppedGru)
    assert model.awd_lstm.layers[0].weight_hh.shape == (3 * 12, 12)
    ids, labels = random_ids(6, 13), torch.tensor([0, 1, 2, 0, 1, 2])
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(30):
        loss = model(ids, labels=labels).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


def test_bidirectional_classifier_adds_a_backward_encoder_of_the_documents():
    torch.manual_seed(0)
    model = AwdLstmForSequenceClassification(tiny_config(**SIZES, bidirectional=True)).eval()
    ids = random_ids(2, 13)
    pooled = model(ids).pooled_features
    assert pooled.shape == (2, 6 * 8)
    # Its halves are a forward classifier's features and a backward one's, each with its own encoder's weights.
    forward = AwdLstmForSequenceClassification(tiny_config(**SIZES)).eval()
    forward.awd_lstm.load_state_dict(model.awd_lstm.state_dict())
    backward = AwdLstmForSequenceClassification(tiny_config(**SIZES, backwards=True)).eval()
    backward.awd_lstm.load_state_dict(model.awd_lstm_backward.state_dict())
    torch.testing.assert_close(pooled[:, :24], forward(ids).pooled_features)
    torch.testing.assert_close(pooled[:, 24:], backward(ids).pooled_features)
    # Padding on either side changes nothing.
    short = ids[1:, :8]
    padded = torch.cat([torch.ones(1, 5, dtype=torch.long), short], 1)
    mask = torch.cat([torch.zeros(1, 5, dtype=torch.long), torch.ones(1, 8, dtype=torch.long)], 1)
    torch.testing.assert_close(model(padded, attention_mask=mask).logits, model(short).logits)
    # Each layer group holds both directions' layers at its depth: the optimizer and unfreezing see every weight.
    groups = layer_groups(model)
    assert sum(len(group) for group in groups) == len(list(model.parameters()))
    assert "awd_lstm_backward.layers.1.weight_hh" in groups[2] and "awd_lstm.layers.1.weight_hh" in groups[2]
    with pytest.raises(ValueError, match="bidirectional is for classifiers"):
        AwdLstmForCausalLM(tiny_config(**SIZES, bidirectional=True))


@pytest.mark.slow
def test_train_classifier_from_scratch_with_a_bidirectional_gru(tmp_path, data_dir):
    out = tmp_path / "bigru"
    flags = ["--dataset", "trec", "--data_dir", data_dir, "--max_train_samples", 200, "--max_eval_samples", 40]
    flags += [*TINY_MODEL, "--rnn_type", "gru", "--bidirectional", "true", "--num_train_epochs", 1, *QUICK_TRAINING]
    assert main([str(flag) for flag in ["train-classifier", *flags, "--output_dir", out]]) == 0
    model = AutoModelForSequenceClassification.from_pretrained(out)
    assert model.config.rnn_type == "gru" and model.config.bidirectional
    assert isinstance(model.awd_lstm_backward.layers[0], WeightDroppedGru)
    record = json.loads((out / "ulmfit_run.json").read_text())
    assert record["model"]["rnn_type"] == "gru" and record["model"]["bidirectional"] is True
    assert record["training"]["label_smoothing_factor"] == 0.0  # 200 examples: below the smoothing default's 1,000
    assert record["model"]["drop_mult"] == model.config.drop_mult == 1.0  # and twice fastai's dropouts there


@pytest.mark.slow
def test_train_classifier_from_scratch_smooths_labels_from_1000_examples(tmp_path, data_dir, caplog):
    out = tmp_path / "smoothed"
    flags = ["--dataset", "trec", "--data_dir", data_dir, "--max_train_samples", 1000, "--max_eval_samples", 40]
    flags += [*TINY_MODEL, "--max_steps", 2, *QUICK_TRAINING]
    with caplog.at_level("INFO"):
        assert main([str(flag) for flag in ["train-classifier", *flags, "--output_dir", out]]) == 0
    assert "label smoothing 0.1: a classifier trained from scratch on 1000 examples" in caplog.text
    record = json.loads((out / "ulmfit_run.json").read_text())
    assert record["train_documents"] == 1000 and record["training"]["label_smoothing_factor"] == 0.1
    assert record["model"]["drop_mult"] == 0.5  # fastai's dropouts from 1,000 examples
    assert "classifier dropouts" not in caplog.text


def test_train_classifier_without_a_model_takes_the_from_scratch_recipe_where_flags_leave_it_unset(tmp_path):
    from hf_ulmfit.cli.main import parse
    from hf_ulmfit.recipes import train_classifier
    from hf_ulmfit.recipes.parsing import parse_arguments

    recipe = train_classifier.FROM_SCRATCH_DEFAULTS
    args, _, tokenizer_args, model_args, training_args = parse("train-classifier", ["--output_dir", str(tmp_path)])
    assert args.model_name_or_path is None
    assert tokenizer_args.tokenizer_kind == recipe["tokenizer_kind"] == "word"
    assert (model_args.embedding_size, model_args.hidden_size, model_args.num_layers) == (128, 256, 2)
    assert model_args.bidirectional is True
    assert (training_args.learning_rate, training_args.num_train_epochs) == (3e-3, 8)
    # A flag given keeps its value, even when it equals the pretrained-encoder default.
    flags = ["--output_dir", str(tmp_path), "--learning_rate", "1e-2", "--bidirectional", "false"]
    _, _, _, model_args, training_args = parse("train-classifier", flags)
    assert training_args.learning_rate == 1e-2 and model_args.bidirectional is False
    assert training_args.num_train_epochs == 8
    # The Python entry point resolves the same arguments (a dict here).
    parsed = parse_arguments(
        train_classifier.ARGUMENT_CLASSES,
        train_classifier.DEFAULTS,
        {"output_dir": str(tmp_path), "num_train_epochs": 3},
        defaults_for=train_classifier.defaults_for,
    )
    assert parsed[3].bidirectional is True and parsed[4].num_train_epochs == 3
    # From a language model: the stage's own defaults (its tokenizer and sizes come with the model).
    flags = ["--output_dir", str(tmp_path), "--model_name_or_path", str(tmp_path)]
    _, _, tokenizer_args, model_args, training_args = parse("train-classifier", flags)
    assert training_args.learning_rate == train_classifier.TRAINING_DEFAULTS["learning_rate"] == 1e-2
    assert training_args.num_train_epochs == 12 and model_args.bidirectional is False
    assert tokenizer_args.tokenizer_kind == "unigram"


def test_gradual_unfreezing_is_the_pretrained_default_and_warned_from_scratch(caplog):
    from hf_ulmfit.recipes.train_classifier import (
        TRAINING_DEFAULTS,
        TrainClassifierArguments,
        resolve_gradual_unfreezing,
    )
    from hf_ulmfit.training import UlmfitTrainingArguments

    def resolved(model_name_or_path, **overrides):
        args = UlmfitTrainingArguments(output_dir="unused", **{**TRAINING_DEFAULTS, **overrides})
        return resolve_gradual_unfreezing(TrainClassifierArguments(model_name_or_path=model_name_or_path), args)

    assert resolved(None).gradual_unfreezing is False and not resolved(None).uses_freezing
    pretrained = resolved("some/lm")
    assert pretrained.gradual_unfreezing is True and pretrained.ddp_find_unused_parameters is True
    assert resolved("some/lm", gradual_unfreezing=False).gradual_unfreezing is False
    with caplog.at_level("WARNING"):
        assert resolved(None, gradual_unfreezing=True).gradual_unfreezing is True  # asked for: kept, with a warning
    assert "trained from scratch" in caplog.text and "--gradual_unfreezing false" in caplog.text


def test_label_smoothing_is_the_from_scratch_default_from_1000_examples():
    from hf_ulmfit.data.targets import MULTI_LABEL, REGRESSION, SINGLE_LABEL
    from hf_ulmfit.recipes.train_classifier import (
        TRAINING_DEFAULTS,
        TrainClassifierArguments,
        resolve_label_smoothing,
    )
    from hf_ulmfit.training import UlmfitTrainingArguments

    def factor(model_name_or_path, examples, problem_type=SINGLE_LABEL, **overrides):
        args = UlmfitTrainingArguments(output_dir="unused", **{**TRAINING_DEFAULTS, **overrides})
        assert args.label_smoothing_factor == overrides.get("label_smoothing_factor")  # None unless given
        model = TrainClassifierArguments(model_name_or_path=model_name_or_path)
        return resolve_label_smoothing(model, args, examples, problem_type).label_smoothing_factor

    assert factor(None, 1000) == 0.1 and factor(None, 25000) == 0.1
    assert factor(None, 999) == 0.0 and factor(None, 100) == 0.0
    assert factor("some/lm", 25000) == 0.0  # a pretrained encoder: the ULMFiT recipe, unsmoothed
    assert factor(None, 5000, MULTI_LABEL) == 0.0 and factor(None, 5000, REGRESSION) == 0.0
    assert factor(None, 5000, label_smoothing_factor=0.0) == 0.0  # asked for: kept
    assert factor("some/lm", 100, label_smoothing_factor=0.2) == 0.2


def test_twice_the_dropout_is_the_from_scratch_default_below_1000_examples(caplog):
    from hf_ulmfit.data.targets import MULTI_LABEL, REGRESSION, SINGLE_LABEL
    from hf_ulmfit.recipes.train_classifier import TrainClassifierArguments, resolve_classifier_drop_mult

    def scale(model_name_or_path, examples, problem_type=SINGLE_LABEL, **overrides):
        args = TrainClassifierArguments(model_name_or_path=model_name_or_path, **overrides)
        assert args.classifier_drop_mult == overrides.get("classifier_drop_mult")  # None unless given
        resolved = resolve_classifier_drop_mult(args, examples, problem_type)
        assert args.classifier_drop_mult == overrides.get("classifier_drop_mult")  # the caller's are left as given
        return resolved.classifier_drop_mult

    with caplog.at_level("INFO"):
        assert scale(None, 100) == 1.0 and scale(None, 999) == 1.0
    assert (
        "classifier dropouts x2.0 (--classifier_drop_mult 1.0): a classifier trained from scratch on 100"
        in caplog.text
    )
    assert scale(None, 1000) == 0.5 and scale(None, 25000) == 0.5
    assert scale("some/lm", 100) == 0.5  # a pretrained encoder: fastai's scale at any size
    assert scale(None, 100, MULTI_LABEL) == 0.5 and scale(None, 100, REGRESSION) == 0.5  # measured single-label only
    assert scale(None, 100, classifier_drop_mult=0.5) == 0.5  # asked for: kept
    assert scale("some/lm", 5000, classifier_drop_mult=0.25) == 0.25


def test_a_trainer_given_unset_label_smoothing_smooths_nothing(tmp_path, tokenizer):
    from hf_ulmfit.training import ClassifierTrainer, UlmfitTrainingArguments

    args = UlmfitTrainingArguments(output_dir=str(tmp_path), report_to="none")
    assert args.label_smoothing_factor is None
    model = AwdLstmForSequenceClassification(tiny_config(tokenizer, **SIZES))
    trainer = ClassifierTrainer(model=model, args=args, processing_class=tokenizer)
    assert trainer.args.label_smoothing_factor == 0.0 and trainer.label_smoother is None
    assert args.label_smoothing_factor is None  # the caller's arguments are left as they were
