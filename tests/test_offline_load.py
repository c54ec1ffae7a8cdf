"""Loading a saved model makes no network call, with transformers' Hub kernels on (5.25's default, `USE_HUB_KERNELS`
unset: `from_pretrained` kernelizes every model) or off (`USE_HUB_KERNELS=NO`, what scripts/test.sh and
scripts/quickstart.sh set)."""

import socket

import huggingface_hub
import pytest
import torch
from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification

import hf_ulmfit.models  # noqa: F401  (registers the auto classes)
from hf_ulmfit import AwdLstmConfig, AwdLstmForCausalLM, AwdLstmForSequenceClassification


@pytest.fixture
def network_calls(monkeypatch) -> list[tuple]:
    """Every attempt to resolve a host or open a connection, refused."""
    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise OSError("network access attempted in an offline test")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    return attempts


@pytest.fixture
def online(monkeypatch):
    """Hub libraries in online mode (the test environment sets the offline flags): only the socket guard stops a
    call, so a load that needed the network would show up in `network_calls`."""
    for flag in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.delenv(flag, raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)


def test_the_guard_sees_a_hub_call(online, network_calls):
    with pytest.raises(Exception):
        huggingface_hub.model_info("openai-community/gpt2")
    assert network_calls


@pytest.mark.parametrize("hub_kernels", [None, "NO"])
@pytest.mark.parametrize("model_class", [AwdLstmForCausalLM, AwdLstmForSequenceClassification])
def test_from_pretrained_makes_no_network_call(tmp_path, monkeypatch, online, network_calls, hub_kernels, model_class):
    if hub_kernels is None:
        monkeypatch.delenv("USE_HUB_KERNELS", raising=False)
    else:
        monkeypatch.setenv("USE_HUB_KERNELS", hub_kernels)
    config = AwdLstmConfig(vocab_size=50, embedding_size=8, hidden_size=12, num_layers=2, num_labels=3)
    model_class(config).eval().save_pretrained(tmp_path)
    auto_class = AutoModelForCausalLM if model_class is AwdLstmForCausalLM else AutoModelForSequenceClassification
    ids = torch.randint(4, 50, (2, 7))
    expected = model_class.from_pretrained(tmp_path).eval()(ids).logits
    loaded = auto_class.from_pretrained(tmp_path).eval()
    torch.testing.assert_close(loaded(ids).logits, expected)
    assert network_calls == []
    if hub_kernels == "NO":  # (with it unset, 5.25 kernelizes the model and 5.6 does not)
        assert not loaded.use_kernels
