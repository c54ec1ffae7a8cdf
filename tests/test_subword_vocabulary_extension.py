"""finetune-lm's whole-word pieces for a unigram tokenizer (`--extend_subword_vocabulary`): IMDb's frequent words that
a tokenizer trained on TREC questions splits into pieces are read whole afterwards, every old id keeps its meaning,
and each new embedding row starts from the rows of the pieces its word was read as."""

import json

import datasets
import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from hf_ulmfit.models.awd_lstm import AwdLstmForCausalLM
from hf_ulmfit.recipes import finetune_lm
from hf_ulmfit.recipes.finetune_lm import resize_embeddings_from_mean
from hf_ulmfit.recipes.model_setup import ModelArguments, new_config
from hf_ulmfit.tokenization import train_tokenizer
from hf_ulmfit.tokenization.vocabulary import extend_unigram_vocabulary


@pytest.fixture(scope="module")
def reviews(data_dir):
    train = datasets.load_dataset("parquet", data_files=str(data_dir / "imdb" / "train.parquet"), split="train")
    return train.shuffle(seed=0).select(range(300)).flatten_indices()


def tiny_language_model(tokenizer) -> AwdLstmForCausalLM:
    torch.manual_seed(0)
    return AwdLstmForCausalLM(new_config(ModelArguments(embedding_size=16, hidden_size=32, num_layers=2), tokenizer))


def test_frequent_split_words_become_whole_pieces_and_old_ids_stay(tokenizer, reviews):
    extended, added, old_pieces = extend_unigram_vocabulary(tokenizer, reviews, min_frequency=5, max_new_words=40)
    assert len(added) == 40 and len(extended) == len(tokenizer) + 40
    old_vocab, new_vocab = tokenizer.get_vocab(), extended.get_vocab()
    assert all(new_vocab[piece] == index for piece, index in old_vocab.items())
    assert [new_vocab[word] for word in added] == list(range(len(tokenizer), len(extended)))
    for word, pieces in zip(added, old_pieces):
        # Read as pieces before, whole now.
        assert len(pieces) >= 2 and tokenizer.convert_ids_to_tokens(pieces) == tokenizer.tokenize(word[1:])
        assert extended.tokenize(word[1:]) == [word]
    assert {"▁and", "▁good", "▁really"} <= set(added)  # 400 pieces of TREC questions split them
    # The same text, in fewer tokens, decoding to what the old tokenizer decodes.
    texts = list(reviews["text"][:20])
    old_ids, new_ids = tokenizer(texts)["input_ids"], extended(texts)["input_ids"]
    assert sum(map(len, new_ids)) < sum(map(len, old_ids))
    assert extended.batch_decode(new_ids, skip_special_tokens=True) == tokenizer.batch_decode(
        old_ids, skip_special_tokens=True
    )


def test_a_word_with_a_character_the_tokenizer_lacks_is_added_too(tokenizer):
    assert tokenizer.unk_token_id in tokenizer("façade")["input_ids"]  # TREC's questions have no "ç"
    extended, added, old_pieces = extend_unigram_vocabulary(tokenizer, ["a façade and a façade"] * 3)
    assert "▁façade" in added and tokenizer.unk_token_id in old_pieces[added.index("▁façade")]
    assert extended.tokenize("façade") == ["▁façade"]


def test_only_words_seen_often_enough_and_only_unigram_tokenizers(tokenizer, reviews):
    unchanged, added, old_pieces = extend_unigram_vocabulary(tokenizer, reviews, min_frequency=10**6)
    assert unchanged is tokenizer and added == [] and old_pieces == []
    word_level = train_tokenizer(list(reviews["text"]), kind="word", vocab_size=500)
    assert extend_unigram_vocabulary(word_level, reviews) == (word_level, [], [])
    with pytest.raises(ValueError, match="row 1"):
        extend_unigram_vocabulary(tokenizer, ["a review", None])


def test_new_rows_start_from_the_mean_of_their_pieces(tokenizer):
    model = tiny_language_model(tokenizer)
    old, old_bias = model.get_input_embeddings().weight.detach().clone(), model.decoder.bias.detach().clone()
    size = old.shape[0]
    resize_embeddings_from_mean(model, size + 2, [[5, 9, 11], [7, 8]])
    new = model.get_input_embeddings().weight
    torch.testing.assert_close(new[:size], old)
    torch.testing.assert_close(new[size], old[[5, 9, 11]].mean(0))
    torch.testing.assert_close(new[size + 1], old[[7, 8]].mean(0))
    torch.testing.assert_close(
        model.decoder.bias[size:], torch.stack([old_bias[[5, 9, 11]].mean(), old_bias[[7, 8]].mean()])
    )
    assert model.decoder.weight.data_ptr() == new.data_ptr()
    with pytest.raises(ValueError, match="1 piece lists for 2 new rows"):
        resize_embeddings_from_mean(model, size + 4, [[5, 9]])


def test_finetune_lm_adds_whole_word_pieces_when_asked(tokenizer, data_dir, tmp_path):
    model = tiny_language_model(tokenizer)
    model.save_pretrained(tmp_path / "lm")
    tokenizer.save_pretrained(tmp_path / "lm")
    common = dict(
        model_name_or_path=str(tmp_path / "lm"),
        dataset="imdb",
        data_dir=str(data_dir),
        extra_text_splits=["none"],
        max_train_samples=200,
        max_eval_samples=8,
        max_steps=2,
        per_device_train_batch_size=8,
        eval_strategy="no",
        save_strategy="no",
        disable_tqdm=True,
    )
    finetune_lm.main(dict(common, output_dir=str(tmp_path / "plain")))
    finetune_lm.main(
        dict(common, extend_subword_vocabulary=True, max_new_subword_words=30, output_dir=str(tmp_path / "extended"))
    )
    plain = json.loads((tmp_path / "plain" / "ulmfit_run.json").read_text())
    extended = json.loads((tmp_path / "extended" / "ulmfit_run.json").read_text())
    assert plain["tokenizer"]["added_tokens"] == 0  # a unigram tokenizer is not extended unless asked
    assert extended["tokenizer"]["added_tokens"] == 30
    saved = AutoTokenizer.from_pretrained(tmp_path / "extended")
    assert len(saved) == len(tokenizer) + 30 and saved.tokenize("and") == ["▁and"]
    assert AutoModelForCausalLM.from_pretrained(tmp_path / "extended").config.vocab_size == len(saved)
