"""Generation with the AWD-LSTM's recurrent cache: `AwdLstmCache` is a transformers `Cache`, and assisted decoding
(an AWD-LSTM assistant) and prompt-lookup decoding give plain greedy decoding's tokens, rolling the recurrent state
back over the drafted tokens the model rejects. Greedy, sampling and beam search against recomputing the prefix are
in test_modeling_awd_lstm.py."""

import pytest
import torch
from transformers.cache_utils import Cache

from hf_ulmfit import AwdLstmConfig, AwdLstmForCausalLM
from hf_ulmfit.models.awd_lstm.configuration_awd_lstm import RNN_TYPES
from hf_ulmfit.models.awd_lstm.modeling_awd_lstm import GENERATION_CACHE_KEY, AwdLstmCache, AwdLstmCacheLayer


VOCAB = 97
GREEDY = dict(max_new_tokens=16, do_sample=False, pad_token_id=1)


def tiny_model(rnn_type: str, seed: int = 0, eos_token_id: int | None = None) -> AwdLstmForCausalLM:
    torch.manual_seed(seed)
    config = AwdLstmConfig(
        vocab_size=VOCAB, embedding_size=16, hidden_size=24, num_layers=3, rnn_type=rnn_type, eos_token_id=eos_token_id
    )
    return AwdLstmForCausalLM(config).eval()


def perturbed_copy(model: AwdLstmForCausalLM, scale: float) -> AwdLstmForCausalLM:
    """An assistant that agrees with `model` on some tokens and not on others."""
    assistant = tiny_model(model.config.rnn_type, eos_token_id=model.config.eos_token_id)
    assistant.load_state_dict(model.state_dict())
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for parameter in assistant.parameters():
            parameter.add_(scale * torch.randn(parameter.shape, generator=generator))
    return assistant


def repetitive_prompt() -> torch.Tensor:
    """A prompt whose end repeats its beginning, so prompt lookup finds n-grams to draft from."""
    head = torch.randint(4, VOCAB, (1, 12), generator=torch.Generator().manual_seed(0))
    return torch.cat([head, head[:, :6]], 1)


@pytest.fixture(params=RNN_TYPES)
def rnn_type(request) -> str:
    return request.param


@pytest.fixture
def taken_back(monkeypatch) -> list[int]:
    """How many tokens each `crop` took back, per layer, in call order (transformers 5.25 passes how many to take
    back, 5.6 how many to keep: this counts what the cache did)."""
    calls, roll_back = [], AwdLstmCacheLayer.roll_back
    monkeypatch.setattr(AwdLstmCacheLayer, "roll_back", lambda layer, n: (calls.append(n), roll_back(layer, n))[1])
    return calls


def test_cache_is_a_transformers_cache(rnn_type):
    model = tiny_model(rnn_type)
    cache = model(repetitive_prompt(), use_cache=True).cache
    assert isinstance(cache, Cache) and isinstance(AwdLstmCache(), Cache)
    assert cache.get_seq_length() == 18 and len(cache) == 3 and cache.is_linear == [True] * 3
    assert cache.batch_size == 1 and cache.is_croppable and not cache.is_compileable


@pytest.mark.parametrize("drafts", ["prompt_lookup", "assistant", "identical_assistant"])
def test_drafting_modes_give_greedy_tokens(drafts, rnn_type, taken_back):
    model, prompt = tiny_model(rnn_type, eos_token_id=2), repetitive_prompt()
    settings = {
        "prompt_lookup": dict(prompt_lookup_num_tokens=3),
        "assistant": dict(assistant_model=perturbed_copy(model, 0.05)),
        "identical_assistant": dict(assistant_model=perturbed_copy(model, 0.0)),
    }[drafts]
    greedy = model.generate(prompt, **GREEDY)
    drafted = model.generate(prompt, **GREEDY, **settings)
    assert torch.equal(drafted, greedy)
    if drafts == "identical_assistant":
        assert taken_back and not any(taken_back)  # every draft accepted: nothing taken back
    else:
        assert any(taken_back)  # some drafts rejected and the state rolled back


def test_assisted_decoding_reads_only_unseen_tokens():
    """The target model reads the prompt once, then per round only the last accepted token and the new drafts."""
    model, prompt = tiny_model("lstm"), repetitive_prompt()
    assistant = perturbed_copy(model, 0.0)
    assistant.generation_config.num_assistant_tokens = 4
    assistant.generation_config.num_assistant_tokens_schedule = "constant"
    assistant.generation_config.assistant_confidence_threshold = 0.0  # a random model is never confident: draft 4
    tokens_read = []
    original = model.forward
    model.forward = lambda input_ids, **kwargs: (tokens_read.append(input_ids.size(1)), original(input_ids, **kwargs))[
        1
    ]
    model.generate(prompt, **GREEDY, assistant_model=assistant)
    assert tokens_read[0] == 18 + 4 and all(count <= 4 + 1 for count in tokens_read[1:])
    assert sum(tokens_read) == 18 + 16 - 1  # every token read once: the last one generated is never read


def test_crop_takes_back_the_last_tokens(rnn_type):
    model, ids = tiny_model(rnn_type), repetitive_prompt()
    expected = model(ids[:, :10]).state
    cache = AwdLstmCache()
    cache.activate_past_recording(recurrent_states_to_keep=4)
    model(ids[:, :8], cache=cache)
    model(ids[:, 8:13], cache=cache)
    cache.crop(-3)  # transformers 5.25's convention: tokens to take back
    assert cache.get_seq_length() == 10
    for layer, expected_layer in zip(cache.state, expected):
        for tensor, expected_tensor in zip(layer, expected_layer):
            torch.testing.assert_close(tensor, expected_tensor)
    model(ids[:, 10:12], cache=cache)
    cache.crop(11)  # the convention before it: tokens to keep
    assert cache.get_seq_length() == 11
    torch.testing.assert_close(cache.state[0][0], model(ids[:, :11]).state[0][0])


def test_crop_without_recording_is_refused_in_one_line():
    model, cache = tiny_model("lstm"), AwdLstmCache()
    model(repetitive_prompt(), cache=cache)
    with pytest.raises(ValueError, match=r"^`crop` needs `activate_past_recording\(\)`"):
        cache.crop(-2)


def test_assisted_sampling_runs_and_keeps_the_prompt():
    model, prompt = tiny_model("lstm"), repetitive_prompt()
    torch.manual_seed(0)
    out = model.generate(
        prompt, max_new_tokens=8, do_sample=True, pad_token_id=1, assistant_model=tiny_model("lstm", 1)
    )
    assert out.shape == (1, 26) and torch.equal(out[:, :18], prompt)


def test_prompt_lookup_without_eos_works_or_is_refused_in_one_line():
    """transformers 5.6's prompt lookup needs an eos token id (it fails inside with a TypeError otherwise): refused up
    front there, and run on the versions that handle it."""
    model, prompt = tiny_model("lstm"), repetitive_prompt()
    if GENERATION_CACHE_KEY == "past_key_values":
        with pytest.raises(ValueError, match="^prompt-lookup decoding needs an eos_token_id"):
            model.generate(prompt, **GREEDY, prompt_lookup_num_tokens=3)
    else:
        assert torch.equal(
            model.generate(prompt, **GREEDY, prompt_lookup_num_tokens=3), model.generate(prompt, **GREEDY)
        )
