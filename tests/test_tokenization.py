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
    assert (tokenizer.unk_token_id, tokenizer.pad_token_id, tokenizer.bos_token_id, tokenizer.eos_token_id) == (
        0,
        1,
        2,
        3,
    )
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
    assert padded["input_ids"][0, lengths[0] :].eq(1).all()  # right padding with xxpad


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
    counts = Counter(piece for text in texts for piece, _ in splitter.pre_tokenize_str(_normalized(tokenizer, text)))
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


# --- training on a sample of the corpus ------------------------------------------------------------------------


def _texts_with_a_character_each(count: int) -> list[str]:
    """One-line texts that share their words but each hold one character no other text has, so a tokenizer's
    alphabet shows which lines its trainer saw."""
    return [f"the same words {chr(0x4E00 + index)}" for index in range(count)]


def _own_characters(tokenizer) -> set[str]:
    return {character for token in tokenizer.get_vocab() for character in token if ord(character) >= 0x4E00}


def test_sample_lines_is_a_seeded_uniform_sample_of_lines():
    from hf_ulmfit.tokenization import sample_lines

    # 100 documents of 5 lines each, with a blank line (never drawn) after the second.
    texts = ["\n".join(f"doc{d} line{n}" for n in range(5)).replace("line1\n", "line1\n\n") for d in range(100)]
    dataset = datasets.Dataset.from_dict({"text": texts})

    def drawn(sample):
        return [line for text in sample for line in text.split("\n") if line]

    sample = sample_lines(dataset, 60, seed=1)
    assert len(drawn(sample)) == len(set(drawn(sample))) == 60
    assert set(drawn(sample)) <= {line for text in texts for line in text.split("\n") if line}
    assert len({line.split()[0] for line in drawn(sample)}) > 30  # lines from many documents, not 12 whole ones
    assert sample == sample_lines(dataset, 60, seed=1) == sample_lines(iter(texts), 60, seed=1)
    assert set(drawn(sample_lines(texts, 60, seed=2))) != set(drawn(sample))
    # A newline that followed a line in its text follows it in the sample too (joining it to another sampled line).
    assert sum(text.count("\n") for text in sample) == sum(1 for line in drawn(sample) if not line.endswith("line4"))
    # Every line is drawn about equally often over many seeds, the last one too (the reservoir is uniform).
    draws = Counter(line for seed in range(100) for line in drawn(sample_lines(texts, 60, seed=seed)))
    assert draws["doc99 line4"] > 0 and max(draws.values()) < 40  # expectation 12 per line
    # A corpus with no more lines than asked comes back whole.
    assert drawn(sample_lines(texts[:3], 60)) == drawn(texts[:3])


@pytest.mark.parametrize("kind", ["unigram", "char"])
def test_max_lines_limits_what_the_trainer_sees(kind):
    from hf_ulmfit.tokenization import sample_lines

    texts = _texts_with_a_character_each(300)
    dataset = datasets.Dataset.from_dict({"text": texts})
    sampled = train_tokenizer(dataset, kind=kind, vocab_size=600, max_lines=40, seed=7)
    seen = {text[-1] for text in sample_lines(dataset, 40, seed=7)}
    assert _own_characters(sampled) == seen and len(seen) == 40
    again = train_tokenizer(dataset, kind=kind, vocab_size=600, max_lines=40, seed=7)
    assert _own_characters(again) == seen  # the same seed draws the same lines (ids of tied pieces may differ)
    other_seed = train_tokenizer(dataset, kind=kind, vocab_size=600, max_lines=40, seed=8)
    assert _own_characters(other_seed) != seen
    from_generator = train_tokenizer((text for text in texts), kind=kind, vocab_size=600, max_lines=40, seed=7)
    assert _own_characters(from_generator) == seen
    with pytest.raises(ValueError, match="max_lines must be a positive number"):
        train_tokenizer(texts, kind=kind, max_lines=-1)


def test_sampled_lines_keep_their_newlines_in_the_vocabulary():
    texts = ["first paragraph here\nsecond paragraph there\nthird one"] * 200
    tokenizer = train_tokenizer(texts, kind="unigram", vocab_size=60, max_lines=90, seed=0)
    ids = tokenizer(texts[0])["input_ids"]
    assert tokenizer.unk_token_id not in ids
    assert tokenizer.decode(ids, skip_special_tokens=True) == texts[0]


def test_recipes_sample_unigram_training_by_default_and_zero_means_everything(monkeypatch):
    from hf_ulmfit.recipes.arguments import TokenizerArguments
    from hf_ulmfit.recipes.model_setup import tokenizer_for
    from hf_ulmfit.tokenization import default_train_lines, sample_lines
    from hf_ulmfit.tokenization import train as train_module

    assert default_train_lines("unigram") == 28_000  # the measured default (RESULTS.md)
    monkeypatch.setitem(train_module._DEFAULT_TRAIN_LINES, "unigram", 40)  # the same rule on a small corpus
    dataset = datasets.Dataset.from_dict({"text": _texts_with_a_character_each(300)})
    by_default = tokenizer_for(TokenizerArguments(tokenizer_kind="unigram", vocab_size=600), dataset, seed=3)
    assert _own_characters(by_default) == {text[-1] for text in sample_lines(dataset, 40, seed=3)}
    everything_args = TokenizerArguments(tokenizer_kind="unigram", vocab_size=600, tokenizer_train_lines=0)
    assert len(_own_characters(tokenizer_for(everything_args, dataset, seed=3))) == len(dataset)
    chosen_args = TokenizerArguments(tokenizer_kind="unigram", vocab_size=600, tokenizer_train_lines=25)
    chosen = tokenizer_for(chosen_args, dataset, seed=3)
    assert _own_characters(chosen) == {text[-1] for text in sample_lines(dataset, 25, seed=3)}
    # Counting characters is cheap: the char kind sees every text by default.
    assert default_train_lines("char") is None
    chars = tokenizer_for(TokenizerArguments(tokenizer_kind="char", vocab_size=600), dataset, seed=3)
    assert len(_own_characters(chars)) == len(dataset)


def test_min_frequency_sets_which_words_a_word_vocabulary_keeps():
    """--min_frequency reaches the trainer: words seen twice are kept at 2 and dropped at the default 3; a unigram
    vocabulary, sized by --vocab_size, refuses it."""
    from hf_ulmfit.recipes.arguments import TokenizerArguments
    from hf_ulmfit.recipes.model_setup import tokenizer_for

    dataset = datasets.Dataset.from_dict({"text": ["common common common twice", "twice once", "common"]})
    vocabularies = {
        frequency: set(
            tokenizer_for(TokenizerArguments(tokenizer_kind="word", min_frequency=frequency), dataset).vocab
        )
        for frequency in (None, 2, 1)
    }
    assert {word for word in ("▁common", "▁twice", "▁once") if word in vocabularies[None]} == {"▁common"}
    assert "▁twice" in vocabularies[2] and "▁once" not in vocabularies[2]
    assert "▁once" in vocabularies[1]
    with pytest.raises(ValueError, match="min_frequency applies to the 'word' and 'char' kinds"):
        tokenizer_for(TokenizerArguments(tokenizer_kind="unigram", min_frequency=2), dataset)
    with pytest.raises(ValueError, match="min_frequency"):
        TokenizerArguments(tokenizer_kind="word", min_frequency=0)


def test_tokenizer_command_takes_the_sample_size_and_its_seed(tmp_path):
    from hf_ulmfit.cli.main import parse

    command, _, tokenizer_args = parse(
        "tokenizer", ["--output_dir", str(tmp_path), "--tokenizer_train_lines", "0", "--seed", "7"]
    )
    assert tokenizer_args.tokenizer_train_lines == 0 and command.seed == 7
    command, _, tokenizer_args = parse("tokenizer", ["--output_dir", str(tmp_path)])
    assert tokenizer_args.tokenizer_train_lines is None and command.seed == 42  # default per kind; stages' seed
