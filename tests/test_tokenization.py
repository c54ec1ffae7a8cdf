"""Tokenizers trained on real data: special ids, saving/reloading with AutoTokenizer, reversible decoding."""

from collections import Counter

import datasets
import pytest
from transformers import AutoTokenizer

from hf_ulmfit.tokenization import SPECIAL_TOKENS, TRAINED_SPECIAL_TOKENS, train_tokenizer
from hf_ulmfit.tokenization.train import SPACE_MARKER


@pytest.fixture(scope="module")
def imdb_train(data_dir):
    return datasets.load_dataset("parquet", data_files=str(data_dir / "imdb" / "train.parquet"), split="train")


@pytest.fixture(scope="module")
def imdb_sample(imdb_train):
    """1,000 reviews of both labels for training, 100 other reviews held out."""
    shuffled = imdb_train.shuffle(seed=0)
    return shuffled.select(range(1000)).flatten_indices(), shuffled.select(range(1000, 1100)).flatten_indices()


@pytest.fixture(scope="module")
def names(data_dir):
    return datasets.load_dataset("parquet", data_files=str(data_dir / "names" / "all.parquet"), split="train")


@pytest.fixture(scope="module")
def unigram_tokenizer(imdb_sample):
    return train_tokenizer(imdb_sample[0], kind="unigram", vocab_size=1000)


@pytest.fixture(scope="module")
def word_tokenizer(imdb_sample):
    return train_tokenizer(imdb_sample[0], kind="word", vocab_size=5000)


@pytest.fixture(scope="module")
def char_tokenizer(names):
    return train_tokenizer(names, kind="char")


@pytest.fixture(params=["unigram", "word", "char"])
def trained(request, imdb_sample, names):
    """(tokenizer, training texts, held-out texts) for each kind."""
    tokenizer = request.getfixturevalue(f"{request.param}_tokenizer")
    if request.param == "char":
        return tokenizer, list(names["text"][:300]), list(names["text"][-300:])
    train, held_out = imdb_sample
    return tokenizer, list(train["text"][:50]), list(held_out["text"])


def test_special_tokens_have_fastai_ids_and_bos_starts_every_text(trained):
    tokenizer, texts, _ = trained
    assert tokenizer.convert_ids_to_tokens([0, 1, 2, 3]) == SPECIAL_TOKENS
    # fastai's field marker follows at id 4 and stays one token inside text (multi-column documents).
    assert tokenizer.convert_ids_to_tokens([4]) == ["xxfld"] == TRAINED_SPECIAL_TOKENS[4:]
    assert 4 in tokenizer("xxfld Subject line xxfld the body")["input_ids"][1:2]
    assert (tokenizer.unk_token_id, tokenizer.pad_token_id, tokenizer.bos_token_id, tokenizer.eos_token_id) == (0, 1, 2, 3)
    encoded = tokenizer(texts[:20])["input_ids"]
    assert all(ids[0] == 2 for ids in encoded)
    assert all(3 not in ids and 1 not in ids for ids in encoded)  # no EOS, no padding unless asked
    assert tokenizer.padding_side == "right" and tokenizer.model_max_length >= 10**12


def test_saved_tokenizer_reloads_with_autotokenizer_and_gives_identical_ids(trained, tmp_path):
    tokenizer, _, held_out = trained
    tokenizer.save_pretrained(tmp_path)
    assert (tmp_path / "tokenizer.json").is_file()
    reloaded = AutoTokenizer.from_pretrained(tmp_path)
    assert reloaded.is_fast
    assert reloaded(held_out)["input_ids"] == tokenizer(held_out)["input_ids"]
    assert reloaded.get_vocab() == tokenizer.get_vocab()
    assert (reloaded.pad_token_id, reloaded.bos_token_id, reloaded.padding_side) == (1, 2, "right")
    padded = reloaded(held_out[:3], padding=True, return_tensors="pt")
    lengths = padded["attention_mask"].sum(1)
    assert padded["input_ids"][0, lengths[0]:].eq(1).all()  # right padding with xxpad


def _normalized(tokenizer, text):
    return tokenizer.backend_tokenizer.normalizer.normalize_str(text)


def test_unigram_decodes_training_text_back_exactly_up_to_normalisation(unigram_tokenizer, imdb_sample):
    texts = imdb_sample[0]["text"][:50]
    for text in texts:
        ids = unigram_tokenizer(text)["input_ids"]
        assert unigram_tokenizer.unk_token_id not in ids
        assert unigram_tokenizer.decode(ids, skip_special_tokens=True) == _normalized(unigram_tokenizer, text)


def test_word_tokenizer_decodes_known_words_exactly_and_unknown_as_xxunk(word_tokenizer, imdb_sample):
    vocab = word_tokenizer.get_vocab()
    splitter = word_tokenizer.backend_tokenizer.pre_tokenizer
    unknown_seen = 0
    for text in imdb_sample[1]["text"][:50]:
        pieces = [piece for piece, _ in splitter.pre_tokenize_str(_normalized(word_tokenizer, text))]
        # Spec: every known piece comes back as written, an unknown one reads " xxunk".
        expected = "".join(piece if piece in vocab else SPACE_MARKER + "xxunk" for piece in pieces)
        expected = expected.replace(SPACE_MARKER, " ")[1:]
        ids = word_tokenizer(text)["input_ids"]
        unknown_seen += ids.count(0)
        assert word_tokenizer.decode(ids[1:]) == expected
    assert unknown_seen > 0  # held-out reviews do contain words outside a 5,000-word vocabulary


def test_char_tokenizer_round_trips_names(char_tokenizer, names):
    for text in names["text"][:500]:
        ids = char_tokenizer(text)["input_ids"]
        assert len(ids) == len(text) + 1
        assert char_tokenizer.decode(ids, skip_special_tokens=True) == text
    assert char_tokenizer.convert_ids_to_tokens(char_tokenizer("Abe")["input_ids"]) == ["xxbos", "A", "b", "e"]
    # The alphabet of 18 languages' surnames: far below the default cap.
    assert 50 < len(char_tokenizer) < 200


def test_word_vocabulary_follows_fastai_rules(imdb_sample):
    texts = imdb_sample[0]["text"]
    tokenizer = train_tokenizer(imdb_sample[0], kind="word", vocab_size=60_000)
    splitter = tokenizer.backend_tokenizer.pre_tokenizer
    counts = Counter(
        piece for text in texts for piece, _ in splitter.pre_tokenize_str(_normalized(tokenizer, text))
    )
    vocab = tokenizer.get_vocab()
    words = set(vocab) - set(TRAINED_SPECIAL_TOKENS)
    assert words == {word for word, count in counts.items() if count >= 3}
    capped = train_tokenizer(imdb_sample[0], kind="word", vocab_size=1000)
    assert len(capped) == 1000
    most_common = [word for word, _ in counts.most_common(100)]
    assert set(most_common) <= set(capped.get_vocab())


def test_training_streams_from_a_generator(imdb_sample):
    from_dataset = train_tokenizer(imdb_sample[0], kind="word", vocab_size=3000)
    texts = (row["text"] for row in imdb_sample[0])  # a one-pass generator, never a list
    from_generator = train_tokenizer(texts, kind="word", vocab_size=3000, batch_size=64)
    assert from_generator.get_vocab() == from_dataset.get_vocab()


def test_normalisation_rules(word_tokenizer):
    normalize = word_tokenizer.backend_tokenizer.normalizer.normalize_str
    assert normalize("Great.<br /><br />Really") == "Great.\n\nReally"
    assert normalize("soooooo good!!!!!!") == "sooo good!!!"
    assert normalize("it was very very very very very long") == "it was very very very long"
    assert normalize("paid 1000000 dollars") == "paid 1000000 dollars"  # digits are never shortened
    assert normalize("too    many  spaces") == "too many spaces"
    assert normalize("ﬁne") == "fine"  # NFKC
    # The rules live inside tokenizer.json: the decoded text shows them.
    ids = word_tokenizer("The film was good.<br /><br />The film was good!!!!!")["input_ids"]
    assert word_tokenizer.decode(ids, skip_special_tokens=True) == "The film was good.\n\nThe film was good!!!"


def test_lowercase_option(imdb_sample):
    tokenizer = train_tokenizer(imdb_sample[0].select(range(200)), kind="word", vocab_size=2000, lowercase=True)
    assert all(token == token.lower() for token in tokenizer.get_vocab())
    assert tokenizer.decode(tokenizer("The Film")["input_ids"], skip_special_tokens=True) == "the film"


def test_bad_inputs_give_clear_errors(imdb_sample):
    with pytest.raises(ValueError, match="Unknown tokenizer kind 'bpe'"):
        train_tokenizer(["a b c"], kind="bpe")
    with pytest.raises(ValueError, match=r"Column 'review' not found; the dataset has columns \['text', 'label'\]"):
        train_tokenizer(imdb_sample[0], text_column="review")
    with pytest.raises(TypeError, match="DatasetDict with splits"):
        train_tokenizer(datasets.DatasetDict({"train": imdb_sample[0]}))
    with pytest.raises(ValueError, match="Text at row 2 is NoneType"):
        train_tokenizer(["a b", "c d", None], kind="word")
    with pytest.raises(ValueError, match="min_frequency"):
        train_tokenizer(["a b"], kind="unigram", min_frequency=2)
