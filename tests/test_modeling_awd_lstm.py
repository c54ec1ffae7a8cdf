"""The AWD-LSTM models: carried state, generation, padding, BPT3C memory, dropouts, transfer, bf16.

Tests about the model run for both recurrent cells (`rnn_type` "lstm" and "qrnn"); the QRNN's kernel and layer have
their own tests in test_qrnn.py."""

import pytest
import torch
from huggingface_hub.errors import StrictDataclassClassValidationError
from tiny_models import VOCAB, random_ids, tiny_config
from torch import nn

from hf_ulmfit import AwdLstmForCausalLM, AwdLstmForSequenceClassification, AwdLstmModel
from hf_ulmfit.models.awd_lstm.configuration_awd_lstm import RNN_TYPES
from hf_ulmfit.models.awd_lstm.modeling_awd_lstm import (
    AwdLstmCache,
    EmbeddingDropout,
    LockedDropout,
    WeightDroppedLstm,
)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture(params=RNN_TYPES)
def rnn_type(request) -> str:
    return request.param


# --- carried state ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("backwards", [False, True])
def test_whole_sequence_equals_chunks_with_carried_state(backwards, rnn_type):
    model = AwdLstmForCausalLM(tiny_config(rnn_type=rnn_type, backwards=backwards)).eval()
    ids = random_ids(3, 30)
    whole = model(ids)
    # A backward model reads the text from its end: the chunk it reads first is the last one.
    chunks = list(ids.split([7, 11, 12], dim=1))
    state, pieces = None, []
    for chunk in reversed(chunks) if backwards else chunks:
        out = model(chunk, state=state)
        state, pieces = out.state, pieces + [out.logits]
    torch.testing.assert_close(torch.cat(pieces, 1), whole.logits, rtol=1e-5, atol=1e-5)
    # Per layer: (h, c) for an LSTM, (c, previous input) for a QRNN, (h,) for a GRU.
    for layer_whole, layer in zip(whole.state, state, strict=True):
        assert len(layer) == len(layer_whole) == (1 if rnn_type == "gru" else 2)
        for tensor, tensor_whole in zip(layer, layer_whole):
            torch.testing.assert_close(tensor, tensor_whole, rtol=1e-5, atol=1e-5)


def test_backward_model_reads_reversed_text(rnn_type):
    forward = AwdLstmForCausalLM(tiny_config(rnn_type=rnn_type)).eval()
    backward = AwdLstmForCausalLM(tiny_config(rnn_type=rnn_type, backwards=True)).eval()
    backward.load_state_dict(forward.state_dict())
    ids = random_ids(2, 12)
    torch.testing.assert_close(backward(ids).logits, forward(ids.flip(1)).logits)


def test_shift_labels_and_labels_give_the_same_loss(rnn_type):
    model = AwdLstmForCausalLM(tiny_config(rnn_type=rnn_type)).eval()
    ids = random_ids(2, 10)
    aligned = torch.cat([ids[:, 1:], torch.full((2, 1), -100)], 1)
    loss_shifted_inside = model(ids, labels=ids).loss
    loss_aligned = model(ids, shift_labels=aligned).loss
    torch.testing.assert_close(loss_shifted_inside, loss_aligned)
    logits = model(ids).logits
    expected = nn.functional.cross_entropy(logits[:, :-1].reshape(-1, VOCAB), ids[:, 1:].reshape(-1))
    torch.testing.assert_close(loss_aligned, expected)


# --- generation ------------------------------------------------------------------------------------------------------


def _count_tokens_read(model):
    counts = []
    handle = model.awd_lstm.embeddings.register_forward_hook(lambda module, args, out: counts.append(args[0].shape[1]))
    return counts, handle


GENERATION_MODES = {
    "greedy": dict(do_sample=False),
    "sampling": dict(do_sample=True, top_k=20),
    "beam_search": dict(do_sample=False, num_beams=4),
}


@pytest.mark.parametrize("mode", list(GENERATION_MODES))
def test_generate_with_carried_state_matches_recomputing_the_prefix(mode, rnn_type):
    model = AwdLstmForCausalLM(tiny_config(rnn_type=rnn_type, eos_token_id=None)).eval()
    prompt = random_ids(2, 9)
    settings = dict(max_new_tokens=12, pad_token_id=1, **GENERATION_MODES[mode])
    torch.manual_seed(1)
    carried = model.generate(prompt, use_cache=True, **settings)
    torch.manual_seed(1)
    recomputed = model.generate(prompt, use_cache=False, **settings)
    assert carried.shape == (2, 21)
    assert torch.equal(carried, recomputed)


@pytest.mark.parametrize("mode", list(GENERATION_MODES))
def test_each_decoding_step_reads_one_token(mode, rnn_type):
    """O(1) per step: after the prompt, every step reads only the newest token, however long the prefix."""
    model = AwdLstmForCausalLM(tiny_config(rnn_type=rnn_type, eos_token_id=None)).eval()
    counts, handle = _count_tokens_read(model)
    model.generate(random_ids(1, 40), use_cache=True, max_new_tokens=12, pad_token_id=1, **GENERATION_MODES[mode])
    handle.remove()
    assert counts == [40] + [1] * 11


def test_generate_triggers_no_deprecation_warning(recwarn, caplog):
    model = AwdLstmForCausalLM(tiny_config(eos_token_id=None)).eval()
    with caplog.at_level("WARNING", logger="transformers"):
        for settings in GENERATION_MODES.values():
            model.generate(random_ids(2, 5), max_new_tokens=4, pad_token_id=1, **settings)
    messages = [str(w.message) for w in recwarn] + [record.getMessage() for record in caplog.records]
    assert not [m for m in messages if "deprecat" in m.lower()], messages


def test_forward_returns_a_cache_only_when_asked(rnn_type):
    model = AwdLstmForCausalLM(tiny_config(rnn_type=rnn_type)).eval()
    ids = random_ids(2, 7)
    assert model(ids).cache is None
    cached = model(ids, use_cache=True)
    assert isinstance(cached.cache, AwdLstmCache) and cached.cache.get_seq_length() == 7
    assert all(
        torch.equal(a, b) for layer, other in zip(cached.state, cached.cache.state) for a, b in zip(layer, other)
    )
    with pytest.raises(ValueError, match="either as `state` or as `cache`"):
        model(ids, state=cached.state, cache=cached.cache)


def test_explicit_state_and_cache_continue_a_text_alike(rnn_type):
    """`state=` (the name truncated BPTT uses) and `cache=AwdLstmCache(state)` (generate's) give the same logits as
    reading the whole text at once."""
    model = AwdLstmForCausalLM(tiny_config(rnn_type=rnn_type)).eval()
    ids = random_ids(2, 12)
    whole = model(ids).logits[:, 8:]
    first = model(ids[:, :8])
    by_state = model(ids[:, 8:], state=first.state).logits
    by_cache = model(ids[:, 8:], cache=AwdLstmCache(first.state)).logits
    torch.testing.assert_close(by_state, whole)
    torch.testing.assert_close(by_cache, whole)


def test_generate_continues_from_a_cache_the_user_passes(rnn_type):
    """A cache that has read the first columns of `input_ids` is continued, as with transformers' KV caches."""
    model = AwdLstmForCausalLM(tiny_config(rnn_type=rnn_type, eos_token_id=None)).eval()
    prompt = random_ids(1, 10)
    settings = dict(max_new_tokens=6, do_sample=False, pad_token_id=1)
    reference = model.generate(prompt, **settings)
    cache = model(prompt[:, :7], use_cache=True).cache
    counts, handle = _count_tokens_read(model)
    continued = model.generate(prompt, cache=cache, **settings)
    handle.remove()
    assert torch.equal(continued, reference)
    assert counts == [3] + [1] * 5


def test_left_padded_batch_generates_as_each_prompt_alone(rnn_type):
    model = AwdLstmForCausalLM(tiny_config(rnn_type=rnn_type, eos_token_id=None)).eval()
    short, long = random_ids(1, 4, seed=1), random_ids(1, 9, seed=2)
    batch = torch.cat([torch.cat([torch.full((1, 5), 1), short], 1), long])
    mask = (torch.arange(9) >= torch.tensor([[5], [0]])).long()
    settings = dict(max_new_tokens=5, do_sample=False, pad_token_id=1)
    together = model.generate(batch, attention_mask=mask, **settings)
    assert torch.equal(together[0, 9:], model.generate(short, **settings)[0, 4:])
    assert torch.equal(together[1, 9:], model.generate(long, **settings)[0, 9:])


# --- padding ---------------------------------------------------------------------------------------------------------


def _pad(rows, side, length):
    ids = torch.full((len(rows), length), 1)
    mask = torch.zeros(len(rows), length, dtype=torch.long)
    for index, row in enumerate(rows):
        span = slice(0, row.numel()) if side == "right" else slice(length - row.numel(), length)
        ids[index, span], mask[index, span] = row, 1
    return ids, mask


@pytest.mark.parametrize("side", ["right", "left"])
@pytest.mark.parametrize("backwards", [False, True])
def test_classifier_logits_do_not_depend_on_padding(side, backwards, rnn_type):
    config = tiny_config(rnn_type=rnn_type, backwards=backwards, num_labels=3)
    model = AwdLstmForSequenceClassification(config).eval()
    documents = [random_ids(30, seed=1), random_ids(5, seed=2), random_ids(17, seed=3)]
    alone = torch.cat([model(doc[None]).logits for doc in documents])
    ids, mask = _pad(documents, side, 41)
    torch.testing.assert_close(model(ids, attention_mask=mask).logits, alone, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("side", ["right", "left"])
def test_language_model_state_and_logits_do_not_depend_on_padding(side, rnn_type):
    model = AwdLstmForCausalLM(tiny_config(rnn_type=rnn_type)).eval()
    documents = [random_ids(11, seed=4), random_ids(6, seed=5)]
    ids, mask = _pad(documents, side, 13)
    out = model(ids, attention_mask=mask)
    for row, doc in enumerate(documents):
        alone = model(doc[None])
        valid = mask[row].bool()
        torch.testing.assert_close(out.logits[row, valid], alone.logits[0], rtol=1e-5, atol=1e-5)
        for layer, layer_alone in zip(out.state, alone.state, strict=True):
            for tensor, tensor_alone in zip(layer, layer_alone, strict=True):
                torch.testing.assert_close(tensor[:, row], tensor_alone[:, 0], rtol=1e-5, atol=1e-5)


def test_padded_loss_equals_unpadded_loss(rnn_type):
    model = AwdLstmForCausalLM(tiny_config(rnn_type=rnn_type)).eval()
    doc = random_ids(1, 10)
    ids, mask = _pad([doc[0]], "left", 14)
    labels = ids.masked_fill(mask == 0, -100)
    torch.testing.assert_close(model(ids, attention_mask=mask, labels=labels).loss, model(doc, labels=doc).loss)


def test_empty_row_is_refused_with_its_index(rnn_type):
    model = AwdLstmForSequenceClassification(tiny_config(rnn_type=rnn_type, num_labels=2)).eval()
    mask = torch.ones(3, 5, dtype=torch.long)
    mask[1] = 0
    with pytest.raises(ValueError, match=r"rows \[1\] have no tokens"):
        model(random_ids(3, 5), attention_mask=mask)


# --- BPT3C -----------------------------------------------------------------------------------------------------------


def _unequal_documents(lengths, seed=0):
    """A right-padded batch of documents of these lengths."""
    ids = random_ids(len(lengths), max(lengths), seed=seed)
    mask = (torch.arange(max(lengths))[None, :] < torch.tensor(lengths)[:, None]).long()
    return ids, mask


def _backward_of(model, ids, mask, seed=0):
    """Bytes saved for backward by one training step of `model` on the batch, and the gradients it gives."""
    model.zero_grad()
    saved = []

    def pack(tensor):
        saved.append(tensor.numel() * tensor.element_size())
        return tensor

    torch.manual_seed(seed)  # the same dropout masks on every call
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        loss = model(ids, attention_mask=mask, labels=torch.arange(len(ids)) % 2).loss
    loss.backward()
    return sum(saved), {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}


def test_classifier_memory_does_not_grow_with_document_length(rnn_type):
    config = tiny_config(rnn_type=rnn_type, num_labels=2, bptt=500, max_len=1000)
    model = AwdLstmForSequenceClassification(config).train()
    # Two rows: the head's BatchNorm needs more than one example in training.
    short_doc, long_doc = random_ids(2, 5_000, seed=6), random_ids(2, 100_000, seed=7)
    short_bytes, _ = _backward_of(model, short_doc, None)
    long_bytes, _ = _backward_of(model, long_doc, None)
    # Only the last max_len tokens keep activations: the 20x longer document keeps no more than the short one.
    assert long_bytes <= short_bytes * 1.05
    with torch.no_grad():
        assert model.eval()(long_doc).logits.shape == (2, 2)


def test_classifier_memory_does_not_grow_with_unequal_document_lengths(rnn_type):
    # Documents of very different lengths in one batch: each keeps activations for its own last max_len tokens only,
    # and all the windows run side by side, so the batch keeps what a batch of max_len-token documents keeps.
    config = tiny_config(rnn_type=rnn_type, num_labels=2, bptt=8, max_len=24, activation_budget_tokens=0)
    model = AwdLstmForSequenceClassification(config).train()
    unequal_bytes, _ = _backward_of(model, *_unequal_documents([24, 200, 400, 800, 1600, 3200]))
    equal_bytes, _ = _backward_of(model, *_unequal_documents([24] * 6))
    assert unequal_bytes <= equal_bytes * 1.1


def test_activation_checkpointing_gives_the_same_gradients_with_a_fraction_of_the_memory(rnn_type):
    config = tiny_config(rnn_type=rnn_type, num_labels=2, bptt=8, max_len=64, activation_budget_tokens=0)
    model = AwdLstmForSequenceClassification(config).train()
    batch = _unequal_documents([20, 70, 90, 150, 300, 64])
    kept_bytes, kept_gradients = _backward_of(model, *batch)
    model.config.activation_budget_tokens = 100  # the batch's windows hold 20 + 5 x 64 tokens: over it
    budget_bytes, budget_gradients = _backward_of(model, *batch)
    model.config.activation_budget_tokens = 0
    switch = getattr(model, "activation_checkpointing_enable", None) or model.gradient_checkpointing_enable
    switch()  # transformers' switch (`--gradient_checkpointing`): every batch
    assert model.gradient_checkpointing
    switch_bytes, switch_gradients = _backward_of(model, *batch)
    assert kept_gradients.keys() == budget_gradients.keys() == switch_gradients.keys()
    for name, gradient in kept_gradients.items():
        torch.testing.assert_close(budget_gradients[name], gradient, rtol=1e-4, atol=1e-6, msg=name)
        torch.testing.assert_close(switch_gradients[name], gradient, rtol=1e-4, atol=1e-6, msg=name)
    assert budget_bytes < kept_bytes / 3 and switch_bytes < kept_bytes / 3


def test_activation_budget_is_checked():
    with pytest.raises(StrictDataclassClassValidationError, match="activation_budget_tokens must be 0"):
        tiny_config(activation_budget_tokens=-1)


def test_classifier_pools_only_chunks_that_start_within_the_last_max_len_tokens(rnn_type):
    config = tiny_config(rnn_type=rnn_type, num_labels=2, bptt=8, max_len=20)
    model = AwdLstmForSequenceClassification(config).eval()
    document = random_ids(1, 42, seed=9)
    # Chunks start at 0, 8, ..., 40; fastai's rule keeps those starting at or after 42 - 20 = 22: tokens 24 onwards.
    features = model.encode_documents(document)
    with torch.no_grad():
        outputs = model.awd_lstm(document).last_hidden_state[0]
    kept = outputs[24:]
    torch.testing.assert_close(features[0, :16], outputs[-1], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(features[0, 16:32], kept.max(0).values, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(features[0, 32:], kept.mean(0), rtol=1e-5, atol=1e-5)


# --- dropouts --------------------------------------------------------------------------------------------------------


def test_locked_dropout_shares_one_mask_across_time():
    dropout = LockedDropout(0.5).train()
    out = dropout(torch.ones(4, 20, 32))
    assert torch.equal(out, out[:, :1].expand_as(out))
    kept = out[:, 0] != 0
    assert 0.2 < kept.float().mean() < 0.8
    torch.testing.assert_close(out[:, 0][kept], torch.full_like(out[:, 0][kept], 2.0))
    assert torch.equal(dropout.eval()(torch.ones(4, 20, 32)), torch.ones(4, 20, 32))


def test_embedding_dropout_drops_whole_vocabulary_rows():
    embedding = nn.Embedding(10, 8)
    nn.init.uniform_(embedding.weight, 1.0, 2.0)
    dropout = EmbeddingDropout(0.5).train()
    ids = torch.arange(10).repeat(3, 4)  # every token appears 12 times
    out = dropout(ids, embedding)
    dropped_rows = out.eq(0).all(-1)
    for token in range(10):
        occurrences = dropped_rows[ids == token]
        assert occurrences.all() or not occurrences.any(), "a token is dropped everywhere or nowhere"
    assert dropped_rows.any() and not dropped_rows.all()
    kept = ~dropped_rows
    torch.testing.assert_close(out[kept], embedding(ids)[kept] * 2)
    assert torch.equal(dropout.eval()(ids, embedding), embedding(ids))


def test_weight_drop_applies_in_training_only_and_keeps_the_raw_weight():
    layer = WeightDroppedLstm(6, 5, weight_dropout=0.5)
    for weight in layer.parameters():
        nn.init.uniform_(weight, -0.5, 0.5)
    raw = layer.weight_hh.detach().clone()
    x = torch.randn(2, 7, 6)
    state = (torch.zeros(1, 2, 5), torch.zeros(1, 2, 5))
    layer.eval()
    eval_out = layer(x, state)[0]
    assert torch.equal(eval_out, layer(x, state)[0])
    # Eval equals a plain nn.LSTM with the same weights.
    reference = nn.LSTM(6, 5, batch_first=True)
    reference.load_state_dict(
        {
            "weight_ih_l0": layer.weight_ih,
            "weight_hh_l0": raw,
            "bias_ih_l0": layer.bias_ih,
            "bias_hh_l0": layer.bias_hh,
        }
    )
    torch.testing.assert_close(eval_out, reference(x)[0])
    layer.train()
    assert not torch.allclose(layer(x, state)[0], layer(x, state)[0])
    assert torch.equal(layer.weight_hh, raw)


def test_lstm_runs_as_one_fused_op_per_layer_not_a_python_loop_over_time():
    model = AwdLstmForCausalLM(tiny_config()).train()
    for length in (5, 50):
        with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as profile:
            model(random_ids(2, length), shift_labels=random_ids(2, length)).loss.backward()
        calls = {event.key: event.count for event in profile.key_averages()}
        assert calls["aten::lstm"] == 3, "one fused LSTM call per layer, independent of the length"
        assert calls.get("aten::lstm_cell", 0) == 0


def test_qrnn_runs_no_python_loop_over_time():
    """The forget-mult scan runs a fixed number of steps per chunk and log2(chunks) doublings: 64 times the length
    adds a handful of ops, where a loop over time steps would add 64 times as many."""
    model = AwdLstmForCausalLM(tiny_config(rnn_type="qrnn")).train()
    op_counts = []
    for length in (16, 1024):
        with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as profile:
            model(random_ids(2, length), shift_labels=random_ids(2, length)).loss.backward()
        op_counts.append(sum(event.count for event in profile.key_averages() if event.key.startswith("aten::")))
    assert op_counts[1] < op_counts[0] * 1.5, op_counts


# --- transfer, bf16 --------------------------------------------------------------------------------------------------


def test_language_model_checkpoint_transfers_its_encoder_to_the_classifier(tmp_path, rnn_type):
    lm = AwdLstmForCausalLM(tiny_config(rnn_type=rnn_type))
    lm.save_pretrained(tmp_path)
    classifier = AwdLstmForSequenceClassification.from_pretrained(tmp_path, num_labels=4)
    lm_encoder = lm.awd_lstm.state_dict()
    for name, tensor in classifier.awd_lstm.state_dict().items():
        assert torch.equal(tensor, lm_encoder[name]), name
    assert classifier.head.blocks[-1].linear.out_features == 4


def test_decoder_is_tied_to_the_embedding(rnn_type):
    model = AwdLstmForCausalLM(tiny_config(rnn_type=rnn_type))
    assert model.decoder.weight.data_ptr() == model.awd_lstm.embeddings.weight.data_ptr()
    assert model.awd_lstm.embeddings.weight.abs().max() <= 0.1


def test_bf16_autocast_trains_on_cpu_close_to_fp32(rnn_type):
    def loss_and_gradients(model, ids, bf16: bool, **inputs):
        model.zero_grad()
        torch.manual_seed(1)  # the same dropout masks in both precisions
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            out = model(ids, **inputs)
        out.loss.backward()
        gradients = torch.cat([p.grad.flatten().float() for p in model.parameters()])
        return out, gradients

    model = AwdLstmForCausalLM(tiny_config(rnn_type=rnn_type)).train()
    ids = random_ids(2, 12)
    full, full_gradients = loss_and_gradients(model, ids, False, labels=ids)
    half, half_gradients = loss_and_gradients(model, ids, True, labels=ids)
    assert half.logits.dtype == torch.bfloat16
    # bf16 keeps 8 bits of mantissa: the loss within 1%, the gradient pointing the same way and of the same size.
    assert half.loss.item() == pytest.approx(full.loss.item(), rel=1e-2)
    assert torch.nn.functional.cosine_similarity(half_gradients, full_gradients, dim=0) > 0.99
    assert half_gradients.norm().item() == pytest.approx(full_gradients.norm().item(), rel=5e-2)
    # A random classifier's gradients are below bf16's resolution (its logits barely differ), so its bf16 run is
    # compared on the loss and logits, in eval mode (no dropout masks, BatchNorm on its running statistics).
    classifier = AwdLstmForSequenceClassification(tiny_config(rnn_type=rnn_type, num_labels=2)).eval()
    ids, labels = random_ids(4, 20), torch.tensor([0, 1, 1, 0])
    full, _ = loss_and_gradients(classifier, ids, False, labels=labels)
    half, half_gradients = loss_and_gradients(classifier, ids, True, labels=labels)
    assert half.loss.item() == pytest.approx(full.loss.item(), rel=1e-2)
    torch.testing.assert_close(half.logits.float(), full.logits, atol=2e-2, rtol=2e-2)
    assert torch.isfinite(half_gradients).all() and half_gradients.abs().sum() > 0
    classifier.train()  # and training mode runs forward and backward under autocast
    half, half_gradients = loss_and_gradients(classifier, ids, True, labels=labels)
    assert torch.isfinite(half.loss) and torch.isfinite(half_gradients).all()


@pytest.mark.parametrize(
    "labels, problem_type",
    [
        (torch.tensor([0, 2]), "single_label_classification"),
        (torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]]), "multi_label_classification"),
    ],
)
def test_classifier_losses(labels, problem_type):
    model = AwdLstmForSequenceClassification(tiny_config(num_labels=3)).eval()
    out = model(random_ids(2, 9), labels=labels)
    assert model.config.problem_type == problem_type
    if problem_type == "single_label_classification":
        expected = nn.functional.cross_entropy(out.logits, labels)
    else:
        expected = nn.functional.binary_cross_entropy_with_logits(out.logits, labels)
    torch.testing.assert_close(out.loss, expected)


def test_regression_loss():
    model = AwdLstmForSequenceClassification(tiny_config(num_labels=1)).eval()
    targets = torch.tensor([0.5, -1.0])
    out = model(random_ids(2, 9), labels=targets)
    torch.testing.assert_close(out.loss, nn.functional.mse_loss(out.logits.squeeze(-1), targets))


def test_base_model_returns_state_and_hidden_states(rnn_type):
    model = AwdLstmModel(tiny_config(rnn_type=rnn_type)).eval()
    out = model(random_ids(2, 5), output_hidden_states=True)
    assert out.last_hidden_state.shape == (2, 5, 16)
    assert [h.shape[-1] for h in out.hidden_states] == [24, 24, 16]
    assert [layer[0].shape for layer in out.state] == [(1, 2, 24), (1, 2, 24), (1, 2, 16)]


def test_hidden_states_follow_the_config_unless_the_call_says_otherwise():
    config = tiny_config(output_hidden_states=True)
    ids = random_ids(2, 5)
    for model in (AwdLstmModel(config).eval(), AwdLstmForCausalLM(config).eval()):
        assert [h.shape[-1] for h in model(ids).hidden_states] == [24, 24, 16]
        assert model(ids, output_hidden_states=False).hidden_states is None


def test_return_dict_false_gives_the_outputs_as_a_tuple():
    ids = random_ids(2, 9)
    lm = AwdLstmForCausalLM(tiny_config()).eval()
    as_dict, as_tuple = lm(ids, labels=ids), lm(ids, labels=ids, return_dict=False)
    assert isinstance(as_tuple, tuple)
    torch.testing.assert_close(as_tuple[0], as_dict.loss)
    torch.testing.assert_close(as_tuple[1], as_dict.logits)
    classifier = AwdLstmForSequenceClassification(tiny_config(num_labels=3, return_dict=False)).eval()
    logits, pooled = classifier(ids)  # the config's return_dict applies when the call does not say
    assert logits.shape == (2, 3) and pooled.shape == (2, 48)


def test_input_and_output_embeddings_are_found_through_transformers_accessors():
    lm = AwdLstmForCausalLM(tiny_config())
    assert lm.get_input_embeddings() is lm.awd_lstm.embeddings and lm.get_output_embeddings() is lm.decoder
    classifier = AwdLstmForSequenceClassification(tiny_config(num_labels=2))
    replacement = nn.Embedding(VOCAB, 16)
    classifier.set_input_embeddings(replacement)
    assert classifier.awd_lstm.embeddings is replacement and classifier.get_input_embeddings() is replacement


def test_language_model_stream_batches_feed_the_model_directly(rnn_type):
    from hf_ulmfit.data import LanguageModelStream

    documents = [random_ids(n, seed=n).tolist() for n in (40, 55, 31, 70)]
    stream = LanguageModelStream(documents, batch_size=3, seq_len=10, shuffle=False)
    model = AwdLstmForCausalLM(tiny_config(rnn_type=rnn_type)).eval()
    state, losses = None, []
    for batch in stream:  # strided views of the stream's rows
        out = model(**batch, state=state)
        state, losses = out.state, losses + [out.loss]
    assert len(losses) == len(stream) and all(torch.isfinite(loss) for loss in losses)


def test_single_step_calls_use_the_native_kernel_and_restore_onednn(rnn_type):
    model = AwdLstmForCausalLM(tiny_config(rnn_type=rnn_type)).eval()
    ids = random_ids(2, 6)
    whole = model(ids)
    state, logits = None, []
    for step in range(6):  # one-token calls, as in generation, run on PyTorch's native LSTM kernel
        out = model(ids[:, step : step + 1], state=state)
        state, logits = out.state, logits + [out.logits]
    torch.testing.assert_close(torch.cat(logits, 1), whole.logits, rtol=1e-5, atol=1e-5)
    assert torch.backends.mkldnn.enabled


def test_classifier_draws_dropconnect_once_per_document(rnn_type):
    config = tiny_config(rnn_type=rnn_type, num_labels=2, bptt=8, max_len=1000)
    model = AwdLstmForSequenceClassification(config).train()
    # The matrix DropConnect drops: an LSTM's hidden-to-hidden weight, a QRNN's convolution weight.
    dropped_index = 1 if rnn_type == "lstm" else 0
    weight_shapes = {tuple(layer.dropped_weights()[dropped_index].shape) for layer in model.awd_lstm.layers}

    def weight_sized_tensors_saved(length: int) -> int:
        storages = set()

        def pack(tensor):
            if tuple(tensor.shape) in weight_shapes:
                storages.add(tensor.untyped_storage().data_ptr())
            return tensor

        with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
            model(random_ids(2, length), labels=torch.tensor([0, 1])).loss.backward()
        return len(storages)

    # Every chunk is kept for back-propagation; with one draw per document, 8 chunks keep no more dropped
    # hidden-to-hidden copies than 2 chunks do.
    assert weight_sized_tensors_saved(64) == weight_sized_tensors_saved(16)
