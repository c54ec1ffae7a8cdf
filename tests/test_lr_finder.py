"""The learning-rate range test: exponential learning rates, a suggestion, a PNG plot, and the model put back."""

import numpy as np
import pytest
import torch

from hf_ulmfit import AwdLstmConfig, AwdLstmForCausalLM
from hf_ulmfit.data import tokenize_dataset
from hf_ulmfit.tokenization import train_tokenizer
from hf_ulmfit.training import LanguageModelTrainer, UlmfitTrainingArguments, lr_find, suggest_learning_rate


@pytest.fixture(scope="module")
def trainer(trec, tmp_path_factory):
    tokenizer = train_tokenizer(trec["train"], kind="unigram", vocab_size=500)
    documents = tokenize_dataset(trec["train"].select(range(300)), tokenizer, keep_columns=())
    torch.manual_seed(0)
    model = AwdLstmForCausalLM(
        AwdLstmConfig(vocab_size=len(tokenizer), embedding_size=16, hidden_size=32, drop_mult=0.5)
    )
    args = UlmfitTrainingArguments(
        output_dir=str(tmp_path_factory.mktemp("lr_find")),
        per_device_train_batch_size=8,
        bptt=20,
        use_cpu=True,
        report_to=[],
        disable_tqdm=True,
        freeze_all_but_top_epochs=1,
    )
    return LanguageModelTrainer(model=model, args=args, train_dataset=documents, processing_class=tokenizer)


def test_lr_find_sweeps_exponentially_suggests_plots_and_restores(trainer, tmp_path):
    before = {n: t.clone() for n, t in trainer.model.state_dict().items()}
    plot = tmp_path / "lr_find.png"
    result = lr_find(trainer, start_lr=1e-5, end_lr=10, num_steps=60, plot_path=str(plot))

    lrs = np.array(result.lrs)
    assert lrs[0] == pytest.approx(1e-5)
    np.testing.assert_allclose(lrs[1:] / lrs[:-1], (10 / 1e-5) ** (1 / 59))  # constant ratio: exponential
    assert len(result.losses) == len(result.lrs) >= 20
    # The loss falls from its start before it blows up (the run stops once it is 4x its minimum, or at 10).
    assert min(result.losses) < result.losses[0] - 0.1
    assert lrs[0] < result.suggested_lr < lrs[int(np.argmin(result.losses))] * 1.0001
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and result.plot_path == str(plot)

    for name, tensor in trainer.model.state_dict().items():
        assert torch.equal(tensor, before[name]), name
    assert trainer.optimizer is None  # the Trainer still builds its own optimizer for train()
    assert all(p.requires_grad for p in trainer.model.parameters())


def test_suggestion_is_the_steepest_descent_before_the_minimum():
    lrs = list(np.logspace(-6, 0, 61))
    # Flat, then falling fastest around 1e-3, a minimum near 1e-1, then rising.
    losses = [3 - 2 / (1 + np.exp(-(np.log10(lr) + 3) * 3)) + (0 if lr < 0.1 else 20 * (lr - 0.1)) for lr in lrs]
    assert suggest_learning_rate(lrs, losses) == pytest.approx(1e-3, rel=0.3)
    with pytest.raises(ValueError, match="too few"):
        suggest_learning_rate(lrs[:2], losses[:2])
