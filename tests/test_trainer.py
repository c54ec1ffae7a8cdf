"""ClassifierTrainer and LanguageModelTrainer: discriminative optimizer groups, frozen groups that do not move,
per-stage schedules, carried-state language-model training and evaluation, AR/TAR under gradient accumulation, exact
resume, bf16, tail weight averaging (``average_weights_fraction``), and a real TREC-6 run."""

import copy
import math

import numpy as np
import pytest
import torch
from transformers import TrainerCallback

from hf_ulmfit import AwdLstmConfig, AwdLstmForCausalLM, AwdLstmForSequenceClassification
from hf_ulmfit.data import (
    ClassificationCollator,
    LanguageModelStream,
    prepare_classification_dataset,
    tokenize_dataset,
)
from hf_ulmfit.tokenization import train_tokenizer
from hf_ulmfit.training import (
    ClassifierTrainer,
    LanguageModelTrainer,
    UlmfitTrainer,
    UlmfitTrainingArguments,
    layer_groups,
    one_cycle_momentum,
    one_cycle_multiplier,
)
from hf_ulmfit.training.weight_averaging import AVERAGED_WEIGHTS_FILE


LM_DOCUMENTS = 400  # TREC questions as a small language-model corpus: about 27 batches of 8 x 20 tokens per epoch


@pytest.fixture(scope="module")
def tokenizer(trec):
    return train_tokenizer(trec["train"], kind="unigram", vocab_size=1000)


@pytest.fixture(scope="module")
def lm_documents(trec, tokenizer):
    documents = tokenize_dataset(trec, tokenizer, keep_columns=())
    return documents["train"].select(range(LM_DOCUMENTS)), documents["test"].select(range(200))


@pytest.fixture(scope="module")
def classification_data(trec, tokenizer):
    return prepare_classification_dataset(trec, tokenizer)


def lm_model(tokenizer, seed=0, **config):
    torch.manual_seed(seed)
    config = {"embedding_size": 16, "hidden_size": 32, "drop_mult": 0.5, **config}
    return AwdLstmForCausalLM(AwdLstmConfig(vocab_size=len(tokenizer), **config))


def classifier_model(tokenizer, seed=0, **config):
    torch.manual_seed(seed)
    config = {"embedding_size": 32, "hidden_size": 64, "drop_mult": 0.3, "num_labels": 6, **config}
    return AwdLstmForSequenceClassification(AwdLstmConfig(vocab_size=len(tokenizer), **config))


def training_args(output_dir, **overrides):
    defaults = dict(
        output_dir=str(output_dir),
        num_train_epochs=2,
        learning_rate=1e-2,
        per_device_train_batch_size=8,
        per_device_eval_batch_size=8,
        bptt=20,
        use_cpu=True,
        report_to=[],
        save_strategy="no",
        disable_tqdm=True,
        logging_steps=5,
        seed=0,
    )
    return UlmfitTrainingArguments(**{**defaults, **overrides})


def snapshot(model):
    return {name: tensor.detach().clone() for name, tensor in model.state_dict().items()}


class GradientRecorder(TrainerCallback):
    """Keeps a copy of every parameter's gradient just before each optimizer step."""

    def __init__(self):
        self.gradients = []

    def on_pre_optimizer_step(self, args, state, control, model=None, **kwargs):
        self.gradients.append({n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None})


class StopAtStep(TrainerCallback):
    def __init__(self, step):
        self.step = step

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == self.step:
            control.should_training_stop = True


def test_optimizer_has_one_discriminative_group_per_layer_group_with_frozen_parameters(
    tmp_path, tokenizer, classification_data
):
    model = classifier_model(tokenizer)
    args = training_args(tmp_path, learning_rate=1e-2, gradual_unfreezing=True)
    trainer = ClassifierTrainer(
        model=model, args=args, train_dataset=classification_data["train"], processing_class=tokenizer
    )
    for parameter in model.awd_lstm.parameters():
        parameter.requires_grad_(False)  # frozen parameters must still be in the optimizer
    optimizer = trainer.create_optimizer()
    groups = layer_groups(model)
    expected = [1e-2 / 2.6**4, 1e-2 / 2.6**3, 1e-2 / 2.6**2, 1e-2 / 2.6, 1e-2]
    for param_group in optimizer.param_groups:
        index = param_group["layer_group"]
        assert param_group["lr"] == pytest.approx(expected[index])
        assert {id(p) for p in param_group["params"]} <= {id(p) for p in groups[index].values()}
        # Decoupled weight decay on weights only, as fastai (no decay on biases and BatchNorm).
        names = {id(p): n for n, p in model.named_parameters()}
        decays = {("bias" in names[id(p)] or "batch_norm" in names[id(p)]) for p in param_group["params"]}
        assert decays == {param_group["weight_decay"] == 0.0}
    assert sorted(id(p) for g in optimizer.param_groups for p in g["params"]) == sorted(
        id(p) for p in model.parameters()
    )

    explicit = training_args(tmp_path, group_learning_rates=[1e-5, 2e-5, 3e-5, 4e-5, 5e-5])
    trainer = ClassifierTrainer(
        model=classifier_model(tokenizer),
        args=explicit,
        train_dataset=classification_data["train"],
        processing_class=tokenizer,
    )
    assert sorted({g["lr"] for g in trainer.create_optimizer().param_groups}) == pytest.approx(
        [1e-5, 2e-5, 3e-5, 4e-5, 5e-5]
    )
    with pytest.raises(ValueError, match="5 layer groups"):
        bad = training_args(tmp_path, group_learning_rates=[1e-5, 2e-5])
        ClassifierTrainer(
            model=classifier_model(tokenizer),
            args=bad,
            train_dataset=classification_data["train"],
            processing_class=tokenizer,
        ).create_optimizer()


def test_learning_rates_follow_stlr_per_group_during_training(tmp_path, tokenizer, lm_documents):
    train, _ = lm_documents
    model = lm_model(tokenizer)
    recorder = []

    class LearningRates(TrainerCallback):
        def on_pre_optimizer_step(self, args, state, control, optimizer=None, **kwargs):
            recorder.append([group["lr"] for group in optimizer.param_groups])

    args = training_args(tmp_path, num_train_epochs=1, learning_rate=4e-3, max_steps=20)
    trainer = LanguageModelTrainer(
        model=model, args=args, train_dataset=train, processing_class=tokenizer, callbacks=[LearningRates()]
    )
    trainer.train()
    peaks = [trainer.group_learning_rates()[g["layer_group"]] for g in trainer.optimizer.param_groups]
    assert len(recorder) == 20
    for step, lrs in enumerate(recorder):  # cut = floor(20 * 0.1) = 2 steps up, 18 down
        p = step / 2 if step < 2 else 1 - (step - 2) / (2 * 9)
        assert lrs == pytest.approx([peak * (1 + p * 31) / 32 for peak in peaks])
    assert max(recorder[2]) == pytest.approx(4e-3)


def test_one_cycle_schedule_sets_learning_rates_and_adam_momentum_during_training(tmp_path, tokenizer, lm_documents):
    train, _ = lm_documents
    recorder = []

    class Hyperparameters(TrainerCallback):
        def on_pre_optimizer_step(self, args, state, control, optimizer=None, **kwargs):
            recorder.append([(group["lr"], group["betas"][0]) for group in optimizer.param_groups])

    args = training_args(tmp_path, learning_rate=4e-3, max_steps=20, lr_schedule="one_cycle")
    trainer = LanguageModelTrainer(
        model=lm_model(tokenizer),
        args=args,
        train_dataset=train,
        processing_class=tokenizer,
        callbacks=[Hyperparameters()],
    )
    trainer.train()
    peaks = [trainer.group_learning_rates()[g["layer_group"]] for g in trainer.optimizer.param_groups]
    for step, groups in enumerate(recorder):
        multiplier = one_cycle_multiplier(step, 20, 0.25, 25.0, 1e5)
        momentum = one_cycle_momentum(step, 20, 0.25, (0.8, 0.7, 0.8))
        assert [lr for lr, _ in groups] == pytest.approx([peak * multiplier for peak in peaks])
        assert all(beta1 == pytest.approx(momentum) for _, beta1 in groups)
    assert recorder[5][-1][0] == pytest.approx(4e-3) and recorder[5][-1][1] == pytest.approx(0.7)


def test_per_stage_schedule_runs_one_cycle_per_stage_with_its_lr_and_trainable_groups(
    tmp_path, tokenizer, lm_documents
):
    """fastai's fit_one_cycle per unfreezing stage, as one train(): stage 1 trains the top group for 1 epoch at 1e-2,
    stage 2 all four groups for 2 epochs at 1e-3, each with its own one-cycle of learning rate and momentum."""
    train = lm_documents[0].select(range(200))
    steps_per_epoch = len(LanguageModelStream(train, 8, 20))
    recorder = []

    class Hyperparameters(TrainerCallback):
        def on_pre_optimizer_step(self, args, state, control, optimizer=None, model=None, **kwargs):
            trainable = [all(p.requires_grad for p in group.values()) for group in layer_groups(model)]
            recorder.append(([(group["lr"], group["betas"][0]) for group in optimizer.param_groups], trainable))

    args = training_args(
        tmp_path,
        learning_rate=1e-2,
        lr_schedule="one_cycle",
        discriminative_lr_factor=1.0,
        fit_schedule="per_stage",
        stage_epochs=[1, 2],
        stage_learning_rates=[1e-2, 1e-3],
        num_train_epochs=None,  # unset (the helper's default is 2): a per-stage fit's length is its stages'
    )
    assert args.num_train_epochs == 3 and args.uses_freezing
    trainer = LanguageModelTrainer(
        model=lm_model(tokenizer), args=args, train_dataset=train, callbacks=[Hyperparameters()]
    )
    trainer.train()
    assert len(recorder) == 3 * steps_per_epoch
    # One plan, compiled from the flags when the Trainer counted the run: the callback and the scheduler follow it.
    plan = trainer.stage_plan
    assert plan.restarts_schedule and plan.start_steps == (0, steps_per_epoch) and plan.lr_scales == (1.0, 0.1)
    assert [stage.trainable_groups for stage in plan.stages] == [1, 4]
    stages = (
        (0, steps_per_epoch, 1e-2, [False, False, False, True]),
        (steps_per_epoch, 2 * steps_per_epoch, 1e-3, [True] * 4),
    )
    for start, length, peak, trainable in stages:
        for step in range(length):
            groups, trained = recorder[start + step]
            multiplier = one_cycle_multiplier(step, length, 0.25, 25.0, 1e5)
            momentum = one_cycle_momentum(step, length, 0.25, (0.8, 0.7, 0.8))
            assert [lr for lr, _ in groups] == pytest.approx([peak * multiplier] * len(groups))
            assert all(beta1 == pytest.approx(momentum) for _, beta1 in groups)
            assert trained == trainable, start + step
    assert all(p.requires_grad for p in trainer.model.parameters())  # everything trainable again after train()


def test_trainers_train_their_own_model_kind(tmp_path, tokenizer):
    args = training_args(tmp_path)
    with pytest.raises(TypeError, match="LanguageModelTrainer trains an AwdLstmForCausalLM, got AwdLstmFor"):
        LanguageModelTrainer(model=classifier_model(tokenizer), args=args, processing_class=tokenizer)
    with pytest.raises(TypeError, match="ClassifierTrainer trains an AwdLstmForSequenceClassification, got AwdLstmF"):
        ClassifierTrainer(model=lm_model(tokenizer), args=args, processing_class=tokenizer)
    with pytest.raises(TypeError, match="UlmfitTrainer is the shared base"):
        UlmfitTrainer(model=lm_model(tokenizer), args=args)


def test_classifier_trainer_needs_a_tokenizer_to_pad_batches(tmp_path, tokenizer):
    with pytest.raises(ValueError, match="pass processing_class=tokenizer"):
        ClassifierTrainer(model=classifier_model(tokenizer), args=training_args(tmp_path))


def test_trainer_sampler_groups_batches_by_length_in_an_order_drawn_from_seed_and_epoch(
    tmp_path, tokenizer, classification_data
):
    """The sampler ClassifierTrainer trains with: batches of similar length, longest first, every row once, the same
    order on every process for a (seed, epoch), a new order each epoch, and disjoint shares per process."""
    from accelerate.data_loader import BatchSamplerShard
    from torch.utils.data import BatchSampler

    train = classification_data["train"]
    lengths = np.array(train["length"][:])

    def sampler(seed):
        args = training_args(tmp_path, per_device_train_batch_size=32, seed=seed)
        trainer = ClassifierTrainer(
            model=classifier_model(tokenizer), args=args, train_dataset=train, processing_class=tokenizer
        )
        return trainer._get_train_sampler()

    trainer_sampler = sampler(0)
    order = list(trainer_sampler)
    assert sorted(order) == list(range(len(train)))  # every row once
    assert order == list(sampler(0))  # drawn from (seed, epoch) alone: every process draws the same order
    assert order != list(sampler(1))
    trainer_sampler.set_epoch(1)
    assert list(trainer_sampler) != order
    grouped = [lengths[order[i : i + 32]] for i in range(0, len(order) - 31, 32)]
    shuffled = np.random.default_rng(0).permutation(len(train))
    random_batches = [lengths[shuffled[i : i + 32]] for i in range(0, len(order) - 31, 32)]
    padding = lambda batches: sum((b.max() - b).sum() for b in batches)  # noqa: E731
    assert padding(grouped) < 0.2 * padding(random_batches)
    assert grouped[0].max() == lengths.max()  # the longest batch first, as fastai (memory errors show at once)
    trainer_sampler.set_epoch(0)
    batches = BatchSampler(trainer_sampler, 32, drop_last=False)
    per_rank = [{i for batch in BatchSamplerShard(batches, 2, r, even_batches=False) for i in batch} for r in (0, 1)]
    assert not per_rank[0] & per_rank[1] and len(per_rank[0] | per_rank[1]) >= len(train) - 1


def test_gradual_unfreezing_leaves_frozen_groups_bit_identical(tmp_path, tokenizer, lm_documents):
    train = lm_documents[0].select(range(200))
    model = lm_model(tokenizer)
    before = snapshot(model)
    after_first_epoch = {}

    class AfterFirstEpoch(TrainerCallback):
        def on_epoch_end(self, args, state, control, model=None, **kwargs):
            if not after_first_epoch:
                after_first_epoch.update(snapshot(model))

    args = training_args(tmp_path, num_train_epochs=2, gradual_unfreezing=True, weight_decay=0.1)
    trainer = LanguageModelTrainer(
        model=model, args=args, train_dataset=train, processing_class=tokenizer, callbacks=[AfterFirstEpoch()]
    )
    trainer.train()
    after = snapshot(model)

    def changed(state, prefix):
        return any(not torch.equal(state[n], before[n]) for n in before if n.startswith(prefix))

    # LM groups: [lstm 0] [lstm 1] [lstm 2] [embedding + decoder]. Epoch 1 trains the top group only, epoch 2 adds
    # lstm 2.
    assert changed(after_first_epoch, "awd_lstm.embeddings") and changed(after_first_epoch, "decoder")
    for prefix in ("awd_lstm.layers.0", "awd_lstm.layers.1", "awd_lstm.layers.2"):
        assert not changed(after_first_epoch, prefix), prefix
    assert changed(after, "awd_lstm.layers.2")
    for prefix in ("awd_lstm.layers.0", "awd_lstm.layers.1"):
        assert not changed(after, prefix), prefix  # weight decay and Adam leave parameters without gradients alone
    assert all(p.requires_grad for p in model.parameters())  # everything trainable again after train()


def manual_lm_evaluation(model, documents, batch_size, bptt):
    """Loss and accuracy over the evaluation stream, with the state carried by hand."""
    model.eval()
    state, loss_sum, correct, tokens = None, 0.0, 0, 0
    with torch.no_grad():
        for batch in LanguageModelStream(documents, batch_size, bptt, shuffle=False):
            inputs, targets = batch["input_ids"].contiguous(), batch["shift_labels"].contiguous()
            outputs = model(input_ids=inputs, state=state)
            state = outputs.state
            loss_sum += torch.nn.functional.cross_entropy(
                outputs.logits.flatten(0, 1), targets.flatten(), reduction="sum"
            ).item()
            correct += (outputs.logits.argmax(-1) == targets).sum().item()
            tokens += targets.numel()
    return loss_sum / tokens, correct / tokens


def test_language_model_trains_with_carried_state_and_evaluates_loss_perplexity_accuracy(
    tmp_path, tokenizer, lm_documents
):
    train, test = lm_documents
    model = lm_model(tokenizer)
    args = training_args(tmp_path, num_train_epochs=2, learning_rate=1e-2)
    trainer = LanguageModelTrainer(
        model=model, args=args, train_dataset=train, eval_dataset=test, processing_class=tokenizer
    )
    before = trainer.evaluate()
    trainer.train()
    after = trainer.evaluate()
    assert set(after) >= {"eval_loss", "eval_perplexity", "eval_accuracy"}
    assert after["eval_perplexity"] == pytest.approx(torch.tensor(after["eval_loss"]).exp().item(), rel=1e-6)
    assert before["eval_perplexity"] > 0.8 * len(tokenizer)  # an untrained model is close to uniform
    assert after["eval_loss"] < before["eval_loss"] - 1.0
    assert after["eval_accuracy"] > 0.05  # well above 1/vocab
    # Evaluation starts from zero state every time, and reads the stream exactly as a manual carried-state loop does.
    assert trainer.evaluate()["eval_loss"] == after["eval_loss"]
    loss, accuracy = manual_lm_evaluation(model, test, batch_size=8, bptt=20)
    assert after["eval_loss"] == pytest.approx(loss, rel=1e-5)
    assert after["eval_accuracy"] == pytest.approx(accuracy)
    # The state was carried during training too, and reset for each epoch's stream.
    assert trainer.lm_state is not None and trainer.lm_state[0][0].shape == (1, 8, 32)
    assert trainer.train_stream.epoch == 1


def lm_loss_by_hand(model, batch, state, alpha, beta):
    outputs = model(
        input_ids=batch["input_ids"].contiguous(), shift_labels=batch["shift_labels"].contiguous(), state=state
    )
    hidden = outputs.last_hidden_state
    ar = alpha * outputs.dropped_hidden_state.pow(2).mean()
    tar = beta * (hidden[:, 1:] - hidden[:, :-1]).pow(2).mean()
    return outputs.loss + ar + tar, outputs.state


def test_ar_tar_are_added_in_training_and_scaled_like_the_loss_under_gradient_accumulation(
    tmp_path, tokenizer, lm_documents
):
    train, _ = lm_documents
    model = lm_model(tokenizer, drop_mult=0.0)  # deterministic, so the gradient can be recomputed by hand
    reference = copy.deepcopy(model)
    recorder = GradientRecorder()
    args = training_args(
        tmp_path, gradient_accumulation_steps=2, max_steps=1, max_grad_norm=0.0, ar_alpha=2.0, tar_beta=1.0
    )
    trainer = LanguageModelTrainer(
        model=model, args=args, train_dataset=train, processing_class=tokenizer, callbacks=[recorder]
    )
    trainer.train()

    stream = LanguageModelStream(train, batch_size=8, seq_len=20, shuffle=True, seed=0)
    stream.set_epoch(0)
    batches = iter(stream)
    reference.train()
    first, state = lm_loss_by_hand(reference, next(batches), None, 2.0, 1.0)
    second, _ = lm_loss_by_hand(
        reference, next(batches), tuple(tuple(s.detach() for s in layer) for layer in state), 2.0, 1.0
    )
    ((first + second) / 2).backward()  # the accumulated gradient is the mean over micro-batches, AR/TAR included
    expected = {n: p.grad for n, p in reference.named_parameters()}
    [recorded] = recorder.gradients
    assert recorded.keys() == expected.keys()
    for name, gradient in recorded.items():
        torch.testing.assert_close(gradient, expected[name], rtol=1e-4, atol=1e-7, msg=name)

    # Without AR/TAR the same step gives a different gradient: the regularisers really are in the training loss.
    no_regularisation, _ = lm_loss_by_hand(copy.deepcopy(reference), next(iter(stream)), None, 0.0, 0.0)
    assert not torch.isclose(no_regularisation, first).item()


def test_classifier_gradient_accumulation_averages_micro_batches(tmp_path, tokenizer, classification_data):
    train = classification_data["train"].select(range(16))
    model = classifier_model(tokenizer, drop_mult=0.0, classifier_dropout=0.0)
    reference = copy.deepcopy(model)
    recorder = GradientRecorder()
    args = training_args(
        tmp_path, gradient_accumulation_steps=2, max_steps=1, max_grad_norm=0.0, train_sampling_strategy="sequential"
    )
    trainer = ClassifierTrainer(
        model=model, args=args, train_dataset=train, processing_class=tokenizer, callbacks=[recorder]
    )
    trainer.train()

    collate = ClassificationCollator(tokenizer)
    reference.train()
    losses = [reference(**collate([train[i] for i in range(start, start + 8)])).loss for start in (0, 8)]
    (sum(losses) / 2).backward()
    [recorded] = recorder.gradients
    for name, parameter in reference.named_parameters():
        torch.testing.assert_close(recorded[name], parameter.grad, rtol=1e-4, atol=1e-7, msg=name)


def test_interrupted_language_model_run_resumes_exactly(tmp_path, tokenizer, lm_documents):
    train = lm_documents[0].select(range(200))
    initial = lm_model(tokenizer)  # dropout on: the resumed run must also restore the random number generators
    steps_per_epoch = len(LanguageModelStream(train, 8, 20))
    checkpoint_step = steps_per_epoch + 5  # in the middle of the second epoch, after the first unfreezing

    def run(output_dir, callbacks=(), resume=None):
        model = copy.deepcopy(initial)
        args = training_args(
            output_dir, num_train_epochs=2, gradual_unfreezing=True, save_strategy="steps", save_steps=checkpoint_step
        )
        trainer = LanguageModelTrainer(
            model=model, args=args, train_dataset=train, processing_class=tokenizer, callbacks=list(callbacks)
        )
        trainer.train(resume_from_checkpoint=resume)
        return trainer

    uninterrupted = run(tmp_path / "full")
    interrupted = run(tmp_path / "resumed", callbacks=[StopAtStep(checkpoint_step)])
    assert interrupted.state.global_step == checkpoint_step
    assert (tmp_path / "resumed" / f"checkpoint-{checkpoint_step}" / "carried_state_0.safetensors").is_file()
    resumed = run(tmp_path / "resumed", resume=True)
    assert resumed.state.global_step == uninterrupted.state.global_step == 2 * steps_per_epoch
    expected, got = uninterrupted.model.state_dict(), resumed.model.state_dict()
    for name in expected:
        assert torch.equal(got[name], expected[name]), name


def test_interrupted_classifier_run_resumes_exactly(tmp_path, tokenizer, classification_data):
    train = classification_data["train"].select(range(384))  # 12 length-grouped batches of 32 per epoch
    initial = classifier_model(tokenizer)  # dropout on

    def run(output_dir, callbacks=(), resume=None):
        args = training_args(
            output_dir,
            num_train_epochs=2,
            per_device_train_batch_size=32,
            gradual_unfreezing=True,
            unfreeze_every_epochs=0.5,
            save_strategy="steps",
            save_steps=17,
        )
        trainer = ClassifierTrainer(
            model=copy.deepcopy(initial),
            args=args,
            train_dataset=train,
            processing_class=tokenizer,
            callbacks=list(callbacks),
        )
        trainer.train(resume_from_checkpoint=resume)
        return trainer

    uninterrupted = run(tmp_path / "full")
    run(tmp_path / "resumed", callbacks=[StopAtStep(17)])  # mid second epoch: the batch order must be drawn again
    resumed = run(tmp_path / "resumed", resume=True)
    assert resumed.state.global_step == uninterrupted.state.global_step == 24
    expected, got = uninterrupted.model.state_dict(), resumed.model.state_dict()
    for name in expected:  # BatchNorm running statistics included
        assert torch.equal(got[name], expected[name]), name


def test_bf16_training_stays_close_to_fp32(tmp_path, tokenizer, lm_documents):
    """bf16 autocast trains (CPUs without bf16 LSTM kernels fall back to fp32 for the recurrence), and its losses stay
    within bf16's rounding of the same run in fp32."""
    train, test = lm_documents
    initial = lm_model(tokenizer)
    losses = {}
    for bf16 in (False, True):
        args = training_args(tmp_path / str(bf16), bf16=bf16, max_steps=2, per_device_eval_batch_size=8)
        trainer = LanguageModelTrainer(
            model=copy.deepcopy(initial),
            args=args,
            train_dataset=train,
            eval_dataset=test.select(range(50)),
            processing_class=tokenizer,
        )
        losses[bf16] = (trainer.train().training_loss, trainer.evaluate()["eval_loss"])
    assert all(math.isfinite(loss) for loss in losses[True])
    assert losses[True] == pytest.approx(losses[False], rel=2e-2)


@pytest.mark.slow
def test_trec_classifier_learns_well_above_the_majority_class(tmp_path, tokenizer, classification_data, seed=0):
    train, test = classification_data["train"], classification_data["test"]
    majority = max(test["label"].count(label) for label in set(test["label"])) / len(test)
    # Trained from scratch, so no lower layers to protect: one learning rate for all groups (factor 1).
    args = training_args(
        tmp_path,
        num_train_epochs=3,
        learning_rate=1e-2,
        discriminative_lr_factor=1.0,
        per_device_train_batch_size=64,
        per_device_eval_batch_size=250,
        eval_strategy="epoch",
        logging_steps=10,
        seed=seed,
    )
    model = classifier_model(tokenizer, seed=seed)
    trainer = ClassifierTrainer(
        model=model, args=args, train_dataset=train, eval_dataset=test, processing_class=tokenizer
    )
    trainer.train()
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    evaluations = [entry for entry in trainer.state.log_history if "eval_accuracy" in entry]
    assert len(evaluations) == 3 and all("eval_f1" in entry for entry in evaluations)  # reported every epoch
    assert losses[-1] < 0.8 * losses[0]
    assert majority < 0.3  # "description" questions: 138 of the 500
    # Measured with seeds 0-2: 0.74-0.78 accuracy after 3 epochs from scratch (the paper reaches 0.964 pretrained).
    assert evaluations[-1]["eval_accuracy"] > 0.6
    assert evaluations[-1]["eval_f1"] > 0.3
    # predict() returns the rows in the dataset's order (training batches are grouped by length, evaluation's not).
    predictions = trainer.predict(test.select(range(100)))
    assert predictions.label_ids.tolist() == test["label"][:100]


def test_the_trainer_itself_stretches_a_short_run_to_min_train_steps(tmp_path, tokenizer, classification_data):
    """min_train_steps is the trainer's argument: a ClassifierTrainer built in Python trains the stretched run, as
    train-classifier does (24 questions are 3 batches of 8, so 2 epochs are 6 steps; 20 steps need 4 passes per
    epoch), and a second `train` does not stretch again."""
    train = classification_data["train"].select(range(24))
    args = training_args(tmp_path, min_train_steps=20, gradual_unfreezing=True, eval_strategy="epoch")
    trainer = ClassifierTrainer(
        model=classifier_model(tokenizer),
        args=args,
        train_dataset=train,
        eval_dataset=classification_data["test"].select(range(8)),
        processing_class=tokenizer,
    )
    trainer.train()
    assert trainer.state.global_step == 24
    stretched = trainer.args
    assert stretched.num_train_epochs == 8 and stretched.unfreeze_every_epochs == 4 and stretched.eval_steps == 12
    assert [entry["step"] for entry in trainer.state.log_history if "eval_loss" in entry] == [12, 24]
    trainer.fit_run_length()
    assert trainer.args.num_train_epochs == 8
    # The trainer stretched its own copy: the caller's arguments are as given, so they train the same run again.
    assert args.num_train_epochs == 2 and args.unfreeze_every_epochs == 1 and args.eval_strategy == "epoch"
    # Switched off, or a run ended by max_steps: trained as given.
    for settings in ({"min_train_steps": 0}, {"min_train_steps": 20, "max_steps": 5}):
        short = ClassifierTrainer(
            model=classifier_model(tokenizer),
            args=training_args(tmp_path / "short", **settings),
            train_dataset=train,
            processing_class=tokenizer,
        )
        short.train()
        assert short.state.global_step == settings.get("max_steps", 6)


# ---- Tail weight averaging ------------------------------------------------------------------------------------------


class WeightRecorder(TrainerCallback):
    """A copy of the weights after every optimizer step."""

    def __init__(self):
        self.weights = []

    def on_step_end(self, args, state, control, model=None, **kwargs):
        self.weights.append({name: weight.detach().clone() for name, weight in model.named_parameters()})


def mean_of(recorded: list[dict], names) -> dict:
    return {name: torch.stack([weights[name] for weights in recorded]).mean(0) for name in names}


def averaging_classifier_run(output_dir, tokenizer, initial, train, callbacks=(), resume=None, **overrides):
    args = training_args(
        output_dir, num_train_epochs=2, per_device_train_batch_size=32, average_weights_fraction=0.5, **overrides
    )
    trainer = ClassifierTrainer(
        model=copy.deepcopy(initial),
        args=args,
        train_dataset=train,
        processing_class=tokenizer,
        callbacks=list(callbacks),
    )
    trainer.train(resume_from_checkpoint=resume)
    return trainer


def test_classifier_ends_with_the_mean_of_its_last_steps(tmp_path, tokenizer, classification_data):
    train = classification_data["train"].select(range(384))  # 12 batches of 32 per epoch, 24 steps
    recorder = WeightRecorder()
    trainer = averaging_classifier_run(
        tmp_path / "run", tokenizer, classifier_model(tokenizer), train, callbacks=[recorder]
    )
    assert len(recorder.weights) == 24
    names = [name for name, _ in trainer.model.named_parameters()]
    expected = mean_of(recorder.weights[12:], names)  # the last half: steps 13 to 24
    got = dict(trainer.model.named_parameters())
    for name in names:
        assert torch.allclose(got[name], expected[name], atol=1e-6), name
    moved = [name for name in names if not torch.equal(recorder.weights[-1][name], recorder.weights[11][name])]
    assert moved and any(not torch.allclose(got[name], recorder.weights[-1][name], atol=1e-6) for name in moved)
    assert trainer.weight_average.steps_averaged == 12


def test_interrupted_run_resumes_with_the_mean_it_had(tmp_path, tokenizer, classification_data):
    train = classification_data["train"].select(range(384))
    initial = classifier_model(tokenizer)
    saving = dict(save_strategy="steps", save_steps=17)
    uninterrupted = averaging_classifier_run(tmp_path / "full", tokenizer, initial, train, **saving)
    # Stopped at step 17, inside the averaged tail (steps 13 to 24): the checkpoint holds the mean of 5 steps.
    averaging_classifier_run(tmp_path / "resumed", tokenizer, initial, train, callbacks=[StopAtStep(17)], **saving)
    assert (tmp_path / "resumed" / "checkpoint-17" / AVERAGED_WEIGHTS_FILE).is_file()
    resumed = averaging_classifier_run(tmp_path / "resumed", tokenizer, initial, train, resume=True, **saving)
    assert resumed.weight_average.steps_averaged == uninterrupted.weight_average.steps_averaged == 12
    expected, got = uninterrupted.model.state_dict(), resumed.model.state_dict()
    for name in expected:
        assert torch.equal(got[name], expected[name]), name


def test_a_checkpoint_without_its_mean_is_not_resumed_from(tmp_path, tokenizer, classification_data):
    train = classification_data["train"].select(range(384))
    saving = dict(save_strategy="steps", save_steps=17)
    averaging_classifier_run(
        tmp_path, tokenizer, classifier_model(tokenizer), train, callbacks=[StopAtStep(17)], **saving
    )
    (tmp_path / "checkpoint-17" / AVERAGED_WEIGHTS_FILE).unlink()
    with pytest.raises(ValueError, match=AVERAGED_WEIGHTS_FILE):
        averaging_classifier_run(
            tmp_path, tokenizer, classifier_model(tokenizer), train, resume=str(tmp_path / "checkpoint-17"), **saving
        )


def test_language_model_ends_with_the_mean_and_keeps_its_tied_weights(tmp_path, tokenizer, lm_documents):
    model = lm_model(tokenizer, tie_word_embeddings=True)
    recorder = WeightRecorder()
    args = training_args(tmp_path, num_train_epochs=1, average_weights_fraction=0.25)
    trainer = LanguageModelTrainer(
        model=model,
        args=args,
        train_dataset=lm_documents[0].select(range(200)),
        processing_class=tokenizer,
        callbacks=[recorder],
    )
    trainer.train()
    steps = len(recorder.weights)
    tail = -(-steps // 4)  # ceil(steps / 4)
    expected = mean_of(recorder.weights[steps - tail :], recorder.weights[0])
    for name, weight in model.named_parameters():
        assert torch.allclose(weight, expected[name], atol=1e-6), name
    assert model.get_output_embeddings().weight is model.get_input_embeddings().weight


def test_averaging_and_the_best_checkpoint_are_not_both_asked_for(tmp_path):
    with pytest.raises(ValueError, match="--average_weights_fraction or --load_best_model_at_end"):
        training_args(
            tmp_path,
            average_weights_fraction=0.25,
            load_best_model_at_end=True,
            eval_strategy="epoch",
            save_strategy="epoch",
        )
