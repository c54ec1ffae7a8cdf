"""Converting fastai AWD-LSTM checkpoints: the converted models reproduce real fastai 2.8 outputs.

The fixtures in tests/fixtures/fastai/ were made by real fastai 2.8.12 (make_fastai_fixtures.py, run in the fastai
environment): tiny models trained a few steps on IMDb reviews and saved with fastai's own `save`/`save_encoder`, the
vocabulary as fastai's pickled itos list, and fastai's own outputs. These tests need no fastai.
"""

import json
import pickle
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, AutoTokenizer

from hf_ulmfit.conversion import FastaiConversionError, convert_fastai_checkpoint, load_fastai_vocab


FIXTURES = Path(__file__).parent / "fixtures" / "fastai"
REFERENCE = json.loads((FIXTURES / "fastai_reference.json").read_text(encoding="utf-8"))
OUTPUTS = load_file(FIXTURES / "fastai_outputs.safetensors")
CLASSIFIER = REFERENCE["classifier_config"]
TOLERANCE = 1e-5


@pytest.fixture(scope="module")
def converted_lm(tmp_path_factory):
    output = tmp_path_factory.mktemp("fastai_lm")
    convert_fastai_checkpoint(FIXTURES / "lm.pth", FIXTURES / "itos.pkl", output)
    return output


@pytest.fixture(scope="module")
def converted_classifier(tmp_path_factory):
    output = tmp_path_factory.mktemp("fastai_classifier")
    convert_fastai_checkpoint(
        FIXTURES / "classifier.pth",
        FIXTURES / "itos.pkl",
        output,
        id2label=REFERENCE["labels"],
        bptt=CLASSIFIER["seq_len"],
        max_len=CLASSIFIER["max_len"],
    )
    return output


def test_language_model_gives_fastai_logits_with_state_carried(converted_lm):
    model = AutoModelForCausalLM.from_pretrained(converted_lm).eval()
    assert model.config.hidden_size == 24 and model.config.embedding_size == 16 and model.config.num_layers == 3
    ids = OUTPUTS["lm_input_ids"][None]
    with torch.no_grad():
        first = model(ids[:, :25])
        second = model(ids[:, 25:], state=first.state)
    torch.testing.assert_close(first.logits[0], OUTPUTS["lm_logits_first"], rtol=0, atol=TOLERANCE)
    torch.testing.assert_close(second.logits[0], OUTPUTS["lm_logits_second"], rtol=0, atol=TOLERANCE)
    assert torch.equal(second.logits[0].argmax(-1), OUTPUTS["lm_logits_second"].argmax(-1))


def test_language_model_batch_matches_fastai(converted_lm):
    model = AutoModelForCausalLM.from_pretrained(converted_lm).eval()
    with torch.no_grad():
        logits = model(OUTPUTS["lm_batch_input_ids"]).logits
    torch.testing.assert_close(logits, OUTPUTS["lm_batch_logits"], rtol=0, atol=TOLERANCE)


def test_backward_language_model_reads_natural_order_like_fastai_reads_reversed(tmp_path):
    """fastai feeds a backward LM reversed tokens; the converted model takes natural order and reverses itself."""
    model, _ = convert_fastai_checkpoint(FIXTURES / "lm_bwd.pth", FIXTURES / "itos.pkl", tmp_path, backwards=True)
    reloaded = AutoModelForCausalLM.from_pretrained(tmp_path).eval()
    assert reloaded.config.backwards
    with torch.no_grad():
        logits = reloaded(OUTPUTS["lm_input_ids"][None]).logits[0]
    torch.testing.assert_close(logits, OUTPUTS["lm_backward_logits_on_reversed_input"], rtol=0, atol=TOLERANCE)


def test_classifier_gives_fastai_logits_probabilities_and_predictions(converted_classifier):
    model = AutoModelForSequenceClassification.from_pretrained(converted_classifier).eval()
    tokenizer = AutoTokenizer.from_pretrained(converted_classifier)
    assert model.config.id2label == dict(enumerate(REFERENCE["labels"]))
    assert model.config.classifier_hidden_sizes == CLASSIFIER["lin_ftrs"]
    logits = []
    for text in REFERENCE["texts"]:
        with torch.no_grad():
            logits.append(model(**tokenizer(text, return_tensors="pt")).logits[0])
    logits = torch.stack(logits)
    torch.testing.assert_close(logits, OUTPUTS["classifier_logits"], rtol=0, atol=TOLERANCE)
    torch.testing.assert_close(logits.softmax(-1), OUTPUTS["classifier_probabilities"], rtol=0, atol=TOLERANCE)
    assert logits.argmax(-1).tolist() == REFERENCE["classifier_predictions"]
    # The fixtures exercise BPT3C: several texts span more than max_len tokens, one ends on a chunk boundary.
    lengths = REFERENCE["classifier_input_lengths"]
    assert any((n - CLASSIFIER["max_len"]) % CLASSIFIER["seq_len"] == 0 and n > CLASSIFIER["max_len"] for n in lengths)


def test_tokenizer_gives_fastai_ids(converted_lm):
    tokenizer = AutoTokenizer.from_pretrained(converted_lm)  # tokenizer.json only: no custom code
    for text, expected in zip(REFERENCE["texts"], REFERENCE["token_ids"]):
        assert tokenizer(text)["input_ids"] == expected, text[:80]


def test_encoder_checkpoint_starts_a_classifier_with_fastai_encoder_weights(tmp_path):
    model, _ = convert_fastai_checkpoint(
        FIXTURES / "lm_encoder.pth", FIXTURES / "itos.txt", tmp_path, id2label=["a", "b"]
    )
    lm, _ = convert_fastai_checkpoint(FIXTURES / "lm.pth", FIXTURES / "itos.pkl")
    assert type(model).__name__ == "AwdLstmForSequenceClassification"
    for name, tensor in lm.awd_lstm.state_dict().items():
        assert torch.equal(model.awd_lstm.state_dict()[name], tensor), name


def test_vocabulary_formats_agree():
    itos = load_fastai_vocab(FIXTURES / "itos.pkl")
    assert load_fastai_vocab(FIXTURES / "itos.txt") == itos
    assert itos[:4] == ["xxunk", "xxpad", "xxbos", "xxeos"] and len(itos) % 8 == 0


def _synthetic_fastai_lm(vocab_size=40, embedding=8, hidden=1150, layers=3, v1=True):
    """A state dict with fastai's LM names (fastai 1.x style, with the extra module.weight_hh_l0 copies)."""
    generator = torch.Generator().manual_seed(0)
    state = {"0.encoder.weight": torch.randn(vocab_size, embedding, generator=generator)}
    state["0.encoder_dp.emb.weight"] = state["0.encoder.weight"].clone()
    widths = [embedding] + [hidden] * (layers - 1) + [embedding]
    for i, (n_in, n_out) in enumerate(zip(widths[:-1], widths[1:])):
        state[f"0.rnns.{i}.weight_hh_l0_raw"] = torch.randn(4 * n_out, n_out, generator=generator) * 0.01
        state[f"0.rnns.{i}.module.weight_ih_l0"] = torch.randn(4 * n_out, n_in, generator=generator) * 0.01
        state[f"0.rnns.{i}.module.bias_ih_l0"] = torch.randn(4 * n_out, generator=generator) * 0.01
        state[f"0.rnns.{i}.module.bias_hh_l0"] = torch.randn(4 * n_out, generator=generator) * 0.01
        if v1:
            state[f"0.rnns.{i}.module.weight_hh_l0"] = state[f"0.rnns.{i}.weight_hh_l0_raw"].clone()
    state["1.decoder.weight"] = state["0.encoder.weight"]
    state["1.decoder.bias"] = torch.zeros(vocab_size)
    return state


def _vocab(size=40):
    return ["xxunk", "xxpad", "xxbos", "xxeos", "xxfld", "xxrep", "xxwrep", "xxup", "xxmaj"] + [
        f"w{i}" for i in range(size - 9)
    ]


def _synthetic_fastai_awd_qrnn(vocab_size=40, embedding=8, hidden=12, layers=3, v1=False):
    """A state dict with the names fastai's AWD_QRNN language model saves (QRNN layers whose linear map WeightDropout
    wraps; fastai 1.x also keeps the dropped copy `module.weight`)."""
    generator = torch.Generator().manual_seed(1)
    state = {"0.encoder.weight": torch.randn(vocab_size, embedding, generator=generator)}
    state["0.encoder_dp.emb.weight"] = state["0.encoder.weight"].clone()
    widths = [embedding] + [hidden] * (layers - 1) + [embedding]
    for i, (n_in, n_out) in enumerate(zip(widths[:-1], widths[1:])):
        window = 2 if i == 0 else 1
        state[f"0.rnns.{i}.layers.0.linear.weight_raw"] = torch.randn(3 * n_out, window * n_in, generator=generator)
        state[f"0.rnns.{i}.layers.0.linear.module.bias"] = torch.randn(3 * n_out, generator=generator)
        if v1:
            state[f"0.rnns.{i}.layers.0.linear.module.weight"] = state[f"0.rnns.{i}.layers.0.linear.weight_raw"]
    state["1.decoder.weight"] = state["0.encoder.weight"]
    state["1.decoder.bias"] = torch.randn(vocab_size, generator=generator)
    return state


def _fastai_awd_qrnn_logits(state, ids, layers=3):
    """fastai's AWD_QRNN forward in eval mode, one step at a time: QRNN layers (source [x_t, x_{t-1}] in the first,
    gates z, f, o; c_t = f_t * z_t + (1 - f_t) * c_{t-1}; h_t = o_t * c_t), then the tied decoder."""
    hidden = state["0.encoder.weight"][ids]
    for i in range(layers):
        weight = state[f"0.rnns.{i}.layers.0.linear.weight_raw"]
        bias = state[f"0.rnns.{i}.layers.0.linear.module.bias"]
        cell, previous, outputs = torch.zeros(ids.size(0), weight.size(0) // 3), torch.zeros_like(hidden[:, 0]), []
        for step in range(ids.size(1)):
            source = torch.cat([hidden[:, step], previous], 1) if i == 0 else hidden[:, step]
            z, f, o = torch.nn.functional.linear(source, weight, bias).chunk(3, dim=1)
            cell = f.sigmoid() * z.tanh() + (1 - f.sigmoid()) * cell
            outputs.append(o.sigmoid() * cell)
            previous = hidden[:, step]
        hidden = torch.stack(outputs, 1)
    return torch.nn.functional.linear(hidden, state["1.decoder.weight"], state["1.decoder.bias"])


@pytest.mark.parametrize("v1", [False, True], ids=["fastai2", "fastai1"])
def test_fastai_awd_qrnn_checkpoint_converts_to_rnn_type_qrnn_with_fastai_logits(tmp_path, v1):
    state = _synthetic_fastai_awd_qrnn(v1=v1)
    torch.save(state, tmp_path / "qrnn.pth")
    model, _ = convert_fastai_checkpoint(tmp_path / "qrnn.pth", _vocab(), output_dir=tmp_path / "out")
    assert model.config.rnn_type == "qrnn" and model.config.hidden_size == 12
    ids = torch.randint(4, 40, (2, 13), generator=torch.Generator().manual_seed(2))
    expected = _fastai_awd_qrnn_logits(state, ids)
    with torch.no_grad():
        torch.testing.assert_close(model(ids).logits, expected, rtol=1e-5, atol=1e-5)
        reloaded = AutoModelForCausalLM.from_pretrained(tmp_path / "out")
        torch.testing.assert_close(reloaded(ids).logits, expected, rtol=1e-5, atol=1e-5)


def test_awd_qrnn_checkpoint_with_a_wrong_first_window_names_the_key(tmp_path):
    state = _synthetic_fastai_awd_qrnn()
    state["0.rnns.0.layers.0.linear.weight_raw"] = state["0.rnns.0.layers.0.linear.weight_raw"][:, :8]
    torch.save(state, tmp_path / "qrnn.pth")
    with pytest.raises(FastaiConversionError, match=r"0\.rnns\.0\.layers\.0\.linear\.weight_raw has shape \(36, 8\)"):
        convert_fastai_checkpoint(tmp_path / "qrnn.pth", _vocab())


def test_hidden_size_1150_fastai_v1_checkpoint_is_inferred_and_runs(tmp_path):
    path = tmp_path / "old.pth"
    state = _synthetic_fastai_lm(hidden=1150)
    torch.save({"model": state, "opt": {}}, path)
    model, _ = convert_fastai_checkpoint(path, _vocab())
    assert model.config.hidden_size == 1150 and model.config.embedding_size == 8
    assert torch.equal(model.awd_lstm.layers[1].weight_hh, state["0.rnns.1.weight_hh_l0_raw"])
    assert model(torch.tensor([[2, 10, 11]])).logits.shape == (1, 3, 40)


def test_corrupt_and_truncated_checkpoints_are_refused(tmp_path):
    good = (FIXTURES / "classifier.pth").read_bytes()
    truncated = tmp_path / "truncated.pth"
    truncated.write_bytes(good[: len(good) // 2])
    with pytest.raises(FastaiConversionError, match="truncated or corrupt"):
        convert_fastai_checkpoint(truncated, FIXTURES / "itos.pkl")
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"this is not a checkpoint" * 10)
    with pytest.raises(FastaiConversionError, match="truncated or corrupt"):
        convert_fastai_checkpoint(garbage, FIXTURES / "itos.pkl")
    with pytest.raises(FastaiConversionError, match="not found"):
        convert_fastai_checkpoint(tmp_path / "missing.pth", FIXTURES / "itos.pkl")


def test_checkpoint_with_wrong_shape_names_key_and_shapes(tmp_path):
    state = _synthetic_fastai_lm(hidden=32)
    state["0.rnns.1.module.weight_ih_l0"] = torch.zeros(4 * 32, 31)
    torch.save(state, tmp_path / "bad.pth")
    with pytest.raises(
        FastaiConversionError, match=r"0\.rnns\.1\.module\.weight_ih_l0 has shape \(128, 31\).*\(128, 32\)"
    ):
        convert_fastai_checkpoint(tmp_path / "bad.pth", _vocab())


def test_unexpected_and_missing_keys_are_named(tmp_path):
    state = _synthetic_fastai_lm(hidden=32)
    state["0.rnns.0.module.weight_ih_l0_reverse"] = torch.zeros(1)
    torch.save(state, tmp_path / "extra.pth")
    with pytest.raises(FastaiConversionError, match="weight_ih_l0_reverse"):
        convert_fastai_checkpoint(tmp_path / "extra.pth", _vocab())
    state = _synthetic_fastai_lm(hidden=32)
    del state["0.rnns.2.module.bias_hh_l0"]
    torch.save(state, tmp_path / "missing.pth")
    with pytest.raises(FastaiConversionError, match=r"missing key 0\.rnns\.2\.module\.bias_hh_l0"):
        convert_fastai_checkpoint(tmp_path / "missing.pth", _vocab())
    torch.save({"weight": torch.zeros(3)}, tmp_path / "other.pth")
    with pytest.raises(FastaiConversionError, match="not a fastai AWD-LSTM checkpoint"):
        convert_fastai_checkpoint(tmp_path / "other.pth", _vocab())


def test_vocabulary_length_mismatch_is_refused(tmp_path):
    with pytest.raises(FastaiConversionError, match=r"vocabulary has 1207 tokens but .* 1208 rows"):
        convert_fastai_checkpoint(FIXTURES / "lm.pth", load_fastai_vocab(FIXTURES / "itos.pkl")[:-1])


class _Payload:
    def __reduce__(self):
        return (Path.touch, (Path(_Payload.marker),))


def test_malicious_or_wrong_vocabulary_pickles_are_refused_without_running(tmp_path):
    _Payload.marker = str(tmp_path / "executed")
    malicious = tmp_path / "itos.pkl"
    malicious.write_bytes(pickle.dumps(["xxunk", _Payload()]))
    with pytest.raises(FastaiConversionError, match="only a plain list of strings"):
        load_fastai_vocab(malicious)
    assert not (tmp_path / "executed").exists()

    not_a_list = tmp_path / "dict.pkl"
    not_a_list.write_bytes(pickle.dumps({"xxunk": 0}))
    with pytest.raises(FastaiConversionError, match="holds a dict, expected a list of strings"):
        load_fastai_vocab(not_a_list)
    numbers = tmp_path / "numbers.pkl"
    numbers.write_bytes(pickle.dumps(["xxunk", 3]))
    with pytest.raises(FastaiConversionError, match="entry 1 is a int"):
        load_fastai_vocab(numbers)
    truncated = tmp_path / "truncated.pkl"
    truncated.write_bytes((FIXTURES / "itos.pkl").read_bytes()[:500])
    with pytest.raises(FastaiConversionError, match="truncated or corrupt"):
        load_fastai_vocab(truncated)


def test_checkpoint_with_code_objects_is_refused_without_running(tmp_path):
    _Payload.marker = str(tmp_path / "executed")
    torch.save({"0.encoder.weight": torch.zeros(2, 2), "hook": _Payload()}, tmp_path / "evil.pth")
    with pytest.raises(FastaiConversionError, match="refused by torch.load"):
        convert_fastai_checkpoint(tmp_path / "evil.pth", _vocab())
    assert not (tmp_path / "executed").exists()
