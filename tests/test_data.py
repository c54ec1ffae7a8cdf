"""Datasets from ../shared/data, language-model streams and classification batches."""

import json

import datasets
import numpy as np
import pyarrow.parquet as pq
import pytest
import torch

from hf_ulmfit.data import (
    NAMED_DATASETS,
    ClassificationCollator,
    LanguageModelStream,
    load_text_dataset,
    prepare_classification_dataset,
    tokenize_dataset,
)
from hf_ulmfit.tokenization import train_tokenizer


datasets.disable_progress_bars()


# ---------------------------------------------------------------------------------------------------------------
# Named datasets
# ---------------------------------------------------------------------------------------------------------------

DOCUMENTED_ROWS = {
    "imdb": {"train": 25_000, "test": 25_000, "unsupervised": 50_000},
    "trec": {"train": 5_452, "test": 500},
    "wikitext-2": {"validation": 3_760, "test": 4_358},
    "wikitext-103": {"validation": 3_760, "test": 4_358},
}


@pytest.mark.parametrize("name", sorted(DOCUMENTED_ROWS))
def test_named_dataset_has_documented_rows(name, data_dir):
    dataset = load_text_dataset(name, data_dir=data_dir)
    assert {split: len(rows) for split, rows in dataset.items()} == DOCUMENTED_ROWS[name]
    assert all(split.features["text"] == datasets.Value("string") for split in dataset.values())


def test_every_named_dataset_is_covered_here():
    assert set(NAMED_DATASETS) == set(DOCUMENTED_ROWS) | {"sms_spam", "names", "wikipedia"}


def test_data_dir_defaults_to_environment_variable(data_dir, monkeypatch):
    monkeypatch.setenv("HF_ULMFIT_DATA", str(data_dir))
    assert len(load_text_dataset("trec")["test"]) == 500


def test_imdb_labels(data_dir):
    imdb = load_text_dataset("imdb", data_dir=data_dir)
    assert imdb["train"].features["label"].names == ["neg", "pos"]
    assert np.bincount(imdb["train"]["label"]).tolist() == [12_500, 12_500]
    assert np.bincount(imdb["test"]["label"]).tolist() == [12_500, 12_500]
    assert set(imdb["unsupervised"]["label"]) == {-1}  # no label, as on the Hub
    assert "<br />" in imdb["train"]["text"][1] or any("<br />" in text for text in imdb["train"]["text"][:50])


def test_trec_coarse_by_default_fine_on_request(data_dir):
    coarse = load_text_dataset("trec", data_dir=data_dir)
    assert coarse["train"].features["label"].names == ["ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM"]
    fine = load_text_dataset("trec", data_dir=data_dir, label_column="fine_label")
    assert len(fine["train"].features["label"].names) == 50
    # Same rows, and each fine class belongs to its coarse class.
    coarse_names = coarse["train"].features["label"].int2str(coarse["train"]["label"][:200])
    fine_names = fine["train"].features["label"].int2str(fine["train"]["label"][:200])
    assert all(f.startswith(c + ":") for c, f in zip(coarse_names, fine_names))


@pytest.mark.parametrize("name, total, classes", [("sms_spam", 5_574, 2), ("names", 20_074, 18)])
def test_unsplit_datasets_get_a_reproducible_stratified_test_split(name, total, classes, data_dir):
    dataset = load_text_dataset(name, data_dir=data_dir)
    assert set(dataset) == {"train", "test"}
    assert len(dataset["train"]) + len(dataset["test"]) == total
    assert len(dataset["test"]) == pytest.approx(0.2 * total, abs=1)
    assert len(dataset["train"].features["label"].names) == classes
    train_share = np.bincount(dataset["train"]["label"], minlength=classes) / len(dataset["train"])
    test_share = np.bincount(dataset["test"]["label"], minlength=classes) / len(dataset["test"])
    assert np.abs(train_share - test_share).max() < 0.01  # stratified
    again = load_text_dataset(name, data_dir=data_dir)
    assert again["test"]["text"][:] == dataset["test"]["text"][:]
    other_seed = load_text_dataset(name, data_dir=data_dir, seed=7)
    assert other_seed["test"]["text"][:] != dataset["test"]["text"][:]


WIKIPEDIA_ARTICLES = 30_729
HELD_OUT_ARTICLES = 300  # the last of wiki-07.parquet: wikipedia's test split
WIKITEXT_TEST_TITLES = {"Nero": "wiki-03.parquet", "American Beauty (1999 film)": "wiki-06.parquet"}


def held_out_ids(data_dir) -> list[int]:
    return pq.read_table(data_dir / "wikipedia" / "wiki-07.parquet", columns=["id"]).column("id").to_pylist()[-300:]


def test_wikipedia_shards(data_dir):
    shard_rows = [pq.read_metadata(path).num_rows for path in sorted((data_dir / "wikipedia").glob("wiki-*.parquet"))]
    assert len(shard_rows) == 8 and sum(shard_rows) == WIKIPEDIA_ARTICLES
    two_shards = load_text_dataset("wikipedia", data_dir=data_dir, max_files=2)
    assert list(two_shards) == ["train", "test"] and len(two_shards["train"]) == shard_rows[0] + shard_rows[1]
    assert {"id", "title", "text"} <= set(two_shards["train"].column_names)


def test_wikipedia_test_split_is_the_last_300_articles_of_the_last_shard_even_with_one_shard(data_dir):
    one_shard = load_text_dataset("wikipedia", data_dir=data_dir, max_files=1)
    assert len(one_shard["train"]) == pq.read_metadata(data_dir / "wikipedia" / "wiki-00.parquet").num_rows
    assert one_shard["test"]["id"][:] == held_out_ids(data_dir)
    last = pq.read_table(data_dir / "wikipedia" / "wiki-07.parquet", columns=["text"]).column("text")
    assert one_shard["test"]["text"][-1] == last[-1].as_py()
    assert sum(len(text.split()) for text in one_shard["test"]["text"]) == pytest.approx(519_000, rel=0.01)


def test_wikipedia_train_leaves_out_the_test_split_and_the_wikitext_test_articles(data_dir, caplog):
    # Seven shards: wiki-03 and wiki-06 hold the WikiText test articles, wiki-07 (held out) is not read.
    with caplog.at_level("INFO", logger="hf_ulmfit.data.named_datasets"):
        seven = load_text_dataset("wikipedia", data_dir=data_dir, max_files=7)
    shard_rows = [pq.read_metadata(path).num_rows for path in sorted((data_dir / "wikipedia").glob("wiki-*.parquet"))]
    assert len(seven["train"]) == sum(shard_rows[:7]) - len(WIKITEXT_TEST_TITLES)
    assert not set(seven["train"]["title"][:]) & set(WIKITEXT_TEST_TITLES)
    assert "excluded 2 articles from train" in caplog.text and "WikiText" in caplog.text
    for title, shard in WIKITEXT_TEST_TITLES.items():  # they are there to leave out
        titles = pq.read_table(data_dir / "wikipedia" / shard, columns=["title"]).column("title").to_pylist()
        assert titles.count(title) == 1


def test_wikipedia_from_the_hub_keeps_wikitext_s_own_test_split(monkeypatch):
    from hf_ulmfit.data import named_datasets as data_module

    wikitext = datasets.DatasetDict(
        {
            split: datasets.Dataset.from_dict({"text": [f"{split} {i}" for i in range(16)]})
            for split in ("train", "validation", "test")
        }
    )
    monkeypatch.setattr(data_module.datasets, "load_dataset", lambda path, config: wikitext)
    loaded = data_module._load_from_hub(NAMED_DATASETS["wikipedia"], max_files=2)
    assert list(loaded) == ["train", "test"]
    assert loaded["test"]["text"][:] == wikitext["test"]["text"][:]
    assert len(loaded["train"]) == 4  # 2 of 8 shards' share


@pytest.mark.slow
def test_whole_wikipedia_loads(data_dir, caplog):
    with caplog.at_level("INFO", logger="hf_ulmfit.data.named_datasets"):
        wikipedia = load_text_dataset("wikipedia", data_dir=data_dir)
    train = wikipedia["train"]
    assert len(train) == WIKIPEDIA_ARTICLES - HELD_OUT_ARTICLES - len(WIKITEXT_TEST_TITLES) == 30_427
    assert len(wikipedia["test"]) == HELD_OUT_ARTICLES
    assert not set(train["id"][:]) & set(held_out_ids(data_dir))
    assert not set(train["title"][:]) & set(WIKITEXT_TEST_TITLES)
    assert "excluded 300 articles from train: the test split" in caplog.text


def test_validation_split_is_stratified_and_disjoint(data_dir):
    imdb = load_text_dataset("imdb", data_dir=data_dir, validation_size=0.1)
    assert (len(imdb["train"]), len(imdb["validation"]), len(imdb["test"])) == (22_500, 2_500, 25_000)
    assert np.bincount(imdb["validation"]["label"]).tolist() == [1_250, 1_250]
    # A partition of the original train split (IMDb has a few duplicate reviews, so compare as multisets).
    original = load_text_dataset("imdb", data_dir=data_dir)["train"]["text"][:]
    assert sorted(imdb["train"]["text"][:] + imdb["validation"]["text"][:]) == sorted(original)


def test_missing_named_dataset_offline_is_a_clear_error(tmp_path):
    with pytest.raises(
        FileNotFoundError,
        match=r"Dataset 'imdb' not found: .* does not exist and the Hub \(stanfordnlp/imdb\) is offline",
    ):
        load_text_dataset("imdb", data_dir=tmp_path)


# ---------------------------------------------------------------------------------------------------------------
# Files and folders
# ---------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sms_rows(data_dir):
    return pq.read_table(data_dir / "sms_spam" / "all.parquet").slice(0, 400).to_pylist()


def test_csv_with_custom_columns(tmp_path, sms_rows):
    path = tmp_path / "messages.csv"
    datasets.Dataset.from_list([{"message": r["text"], "kind": r["label"]} for r in sms_rows]).to_csv(
        path, index=False
    )
    dataset = load_text_dataset(path, text_column="message", label_column="kind")
    assert set(dataset) == {"train", "test"} and len(dataset["train"]) + len(dataset["test"]) == 400
    assert dataset["train"].features["label"].names == ["ham", "spam"]
    assert set(dataset["train"].column_names) == {"text", "label"}
    originals = {r["text"]: r["label"] for r in sms_rows}
    row = dataset["test"][0]
    assert originals[row["text"]] == dataset["test"].features["label"].int2str(row["label"])


def test_folder_of_jsonl_files_keeps_its_splits(tmp_path, sms_rows):
    for split, rows in (("train", sms_rows[:300]), ("test", sms_rows[300:])):
        with open(tmp_path / f"{split}.jsonl", "w") as file:
            file.writelines(json.dumps(row) + "\n" for row in rows)
    dataset = load_text_dataset(tmp_path)
    assert {split: len(rows) for split, rows in dataset.items()} == {"train": 300, "test": 100}
    assert dataset["test"].features["label"].names == ["ham", "spam"]


def test_text_and_parquet_files(tmp_path, sms_rows):
    lines = tmp_path / "corpus.txt"
    lines.write_text("\n".join(r["text"].replace("\n", " ") for r in sms_rows[:50]) + "\n")
    corpus = load_text_dataset(lines)
    assert list(corpus) == ["train"] and corpus["train"].column_names == ["text"] and len(corpus["train"]) == 50
    table = tmp_path / "sms.parquet"
    datasets.Dataset.from_list(sms_rows).to_parquet(table)
    assert len(load_text_dataset(table, validation_size=50)["validation"]) == 50


def test_bad_inputs_give_clear_errors(tmp_path, sms_rows):
    with pytest.raises(FileNotFoundError, match="'no/such/file.csv' is neither a file, a folder, nor a named dataset"):
        load_text_dataset("no/such/file.csv")

    path = tmp_path / "sms.csv"
    datasets.Dataset.from_list(sms_rows[:40]).to_csv(path, index=False)
    with pytest.raises(
        ValueError, match=r"Text column 'review' not found in split 'train'; available columns: \['text', 'label'\]"
    ):
        load_text_dataset(path, text_column="review")
    with pytest.raises(
        ValueError,
        match=r"Label column 'sentiment' not found in split 'train'; available columns: \['text', 'label'\]",
    ):
        load_text_dataset(path, label_column="sentiment")

    rows = [dict(row) for row in sms_rows[:40]]
    rows[17]["text"] = "   "
    empty = tmp_path / "empty" / "train.jsonl"
    empty.parent.mkdir()
    empty.write_text("".join(json.dumps(row) + "\n" for row in rows))
    with pytest.raises(ValueError, match=r"Split 'train', column 'text': missing or empty text at row\(s\) 17\."):
        load_text_dataset(empty)

    rows = [dict(row) for row in sms_rows[:40]]
    rows[5]["label"] = None
    unlabelled = tmp_path / "unlabelled.jsonl"
    unlabelled.write_text("".join(json.dumps(row) + "\n" for row in rows))
    with pytest.raises(ValueError, match=r"Split 'train', column 'label': missing label at row\(s\) \[5\]"):
        load_text_dataset(unlabelled)

    folder = tmp_path / "unseen"
    folder.mkdir()
    datasets.Dataset.from_list(sms_rows[:30]).to_csv(folder / "train.csv", index=False)
    test_rows = [dict(row) for row in sms_rows[30:40]]
    test_rows[3]["label"] = "phishing"
    datasets.Dataset.from_list(test_rows).to_csv(folder / "test.csv", index=False)
    with pytest.raises(
        ValueError, match=r"Split 'test' has label\(s\) \['phishing'\] that the train split never uses \(rows \[3\]\)"
    ):
        load_text_dataset(folder)

    with pytest.raises(ValueError, match="already has a validation split"):
        load_text_dataset("wikitext-2", validation_size=0.1)


def test_files_that_are_not_utf8_are_named_with_line_and_byte(tmp_path):
    latin1 = tmp_path / "latin1.csv"
    latin1.write_bytes("text,label\nfine,a\nalso fine,b\ncafé au lait,a\n".encode("latin-1"))
    with pytest.raises(ValueError, match=rf"^{latin1} is not valid UTF-8 \(line 4, byte 33\)"):
        load_text_dataset(latin1)
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "train.txt").write_text("good line\n")
    (folder / "test.txt").write_bytes(b"ok\n\xff\n")
    with pytest.raises(ValueError, match=rf"^{folder / 'test.txt'} is not valid UTF-8 \(line 2, byte 3\)"):
        load_text_dataset(folder)


def test_a_single_class_and_too_few_rows_are_refused(tmp_path, sms_rows):
    path = tmp_path / "ham.csv"
    datasets.Dataset.from_list([row for row in sms_rows if row["label"] == "ham"][:40]).to_csv(path, index=False)
    with pytest.raises(ValueError, match=r"Label column 'label' of split 'train' holds a single class \('ham'\)"):
        load_text_dataset(path)
    two = tmp_path / "two.csv"
    two.write_text("text,label\nfirst,a\nsecond,b\n")
    with pytest.raises(
        ValueError,
        match=r"Cannot hold out a stratified 'test' split of 0.2 from 'train' \(2 rows, "
        r"per class \{'a': 1, 'b': 1\}\).*give a test file \(test.csv\)",
    ):
        load_text_dataset(two)
    one = tmp_path / "one.txt"
    one.write_text("just one line\n")
    with pytest.raises(ValueError, match=r"Split 'train' has 1 row\(s\): too few to hold out a 'validation' split"):
        load_text_dataset(one, validation_size=0.1)


def test_several_text_columns_are_joined_with_the_field_marker(tmp_path):
    path = tmp_path / "mails.jsonl"
    rows = [
        {"subject": "Lunch", "body": "At noon?", "label": "personal"},
        {"subject": "", "body": "Pay.", "label": "work"},
    ]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    for columns in (["subject", "body"], "subject,body"):
        dataset = load_text_dataset(path, text_column=columns, label_column="")
        assert dataset["train"]["text"][:] == ["xxfld Lunchxxfld At noon?", "xxfld xxfld Pay."]
        assert set(dataset["train"].column_names) == {"text", "label"}
    with pytest.raises(ValueError, match=r"Text column 'title' not found in split 'train'; available columns: "):
        load_text_dataset(path, text_column=["subject", "title"])
    rows[1]["body"] = None  # with the subject empty too, the row holds no text
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    with pytest.raises(
        ValueError, match=r"column 'subject/body': empty text \(every field blank or missing\) at row\(s\) 1\."
    ):
        load_text_dataset(path, text_column=["subject", "body"])
    rows[1]["body"] = "  "
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    with pytest.raises(
        ValueError, match=r"column 'subject/body': empty text \(every field blank or missing\) at row\(s\) 1\."
    ):
        load_text_dataset(path, text_column=["subject", "body"])
    rows[1]["subject"] = None  # a missing subject beside a body is a text with an empty subject
    rows[1]["body"] = "Pay."
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    assert (
        load_text_dataset(path, text_column=["subject", "body"], label_column="")["train"]["text"][1]
        == "xxfld xxfld Pay."
    )


# ---------------------------------------------------------------------------------------------------------------
# Language-model streams
# ---------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def wikitext_documents(data_dir):
    """WikiText-2 validation lines, tokenised by a word tokenizer trained on them: each starts with xxbos (2)."""
    corpus = load_text_dataset("wikitext-2", data_dir=data_dir)["validation"]
    tokenizer = train_tokenizer(corpus, kind="word", vocab_size=8000)
    return tokenize_dataset(corpus, tokenizer, num_proc=1)


def _expected_rows(documents: datasets.Dataset, order, num_rows: int) -> np.ndarray:
    """The specification, written independently of the class: documents in the epoch's order, cut into rows."""
    token_lists = documents["input_ids"][:]
    flat = [token for index in order for token in token_lists[index]]
    row_length = len(flat) // num_rows
    return np.array(flat[: num_rows * row_length]).reshape(num_rows, row_length)


def test_lm_stream_rows_continue_across_batches(wikitext_documents):
    stream = LanguageModelStream(wikitext_documents, batch_size=8, seq_len=72, seed=3)
    assert stream.num_documents == 3_760
    assert stream.tokens[stream.offsets[:-1][stream.offsets[1:] > stream.offsets[:-1]]].tolist() == [2] * 3_760
    batches = list(stream)
    assert len(batches) == len(stream) == -(-(stream.row_length - 1) // 72)
    for batch in batches:
        assert batch["input_ids"].dtype == torch.long and batch["input_ids"].shape == batch["shift_labels"].shape
        assert batch["input_ids"].shape[0] == 8
        # shift_labels are the next tokens of the same row.
        assert torch.equal(batch["shift_labels"][:, :-1], batch["input_ids"][:, 1:])
    assert all(batch["input_ids"].shape[1] == 72 for batch in batches[:-1])
    assert 1 <= batches[-1]["input_ids"].shape[1] <= 72
    for previous, current in zip(batches, batches[1:]):
        # Row r of batch k starts with the token that row r of batch k-1 was asked to predict last.
        assert torch.equal(current["input_ids"][:, 0], previous["shift_labels"][:, -1])
    # Reading every row across batches gives the documents in this epoch's order, contiguously.
    read_back = torch.cat([batch["input_ids"] for batch in batches], dim=1)
    last_targets = batches[-1]["shift_labels"][:, -1:]
    np.testing.assert_array_equal(
        torch.cat([read_back, last_targets], dim=1).numpy(),
        _expected_rows(wikitext_documents, stream.document_order(), 8),
    )


def test_lm_stream_reshuffles_documents_each_epoch(wikitext_documents):
    stream = LanguageModelStream(wikitext_documents, batch_size=4, seq_len=50, seed=0)
    first_epoch = [batch["input_ids"].clone() for batch in stream]
    again = [batch["input_ids"] for batch in stream]
    assert all(torch.equal(a, b) for a, b in zip(first_epoch, again))  # same epoch, same batches
    stream.set_epoch(1)
    assert not np.array_equal(stream.document_order(0), stream.document_order(1))
    second_epoch = list(stream)
    assert len(second_epoch) == len(first_epoch)
    assert not torch.equal(second_epoch[0]["input_ids"], first_epoch[0])
    for previous, current in zip(second_epoch, second_epoch[1:]):
        assert torch.equal(current["input_ids"][:, 0], previous["shift_labels"][:, -1])
    read_back = torch.cat([batch["input_ids"] for batch in second_epoch], dim=1)
    np.testing.assert_array_equal(
        read_back.numpy(), _expected_rows(wikitext_documents, stream.document_order(), 4)[:, :-1]
    )
    unshuffled = LanguageModelStream(wikitext_documents, batch_size=4, seq_len=50, shuffle=False)
    unshuffled.set_epoch(5)
    assert unshuffled.document_order().tolist() == list(range(3_760))


@pytest.mark.parametrize("backwards", [False, True])
def test_lm_stream_two_ranks_equal_one_process_with_twice_the_rows(wikitext_documents, backwards):
    single = LanguageModelStream(wikitext_documents, batch_size=6, seq_len=40, seed=11, backwards=backwards)
    ranks = [
        LanguageModelStream(
            wikitext_documents, batch_size=3, seq_len=40, seed=11, backwards=backwards, rank=r, world_size=2
        )
        for r in (0, 1)
    ]
    for stream in (single, *ranks):
        stream.set_epoch(2)
    assert len(ranks[0]) == len(ranks[1]) == len(single)
    for together, part0, part1 in zip(single, *ranks, strict=True):
        for key in ("input_ids", "shift_labels"):
            assert part0[key].shape == part1[key].shape
            assert torch.equal(torch.cat([part0[key], part1[key]]), together[key])


def test_backward_lm_stream_reads_each_row_from_its_end(wikitext_documents):
    forward = LanguageModelStream(wikitext_documents, batch_size=5, seq_len=64, seed=1)
    backward = LanguageModelStream(wikitext_documents, batch_size=5, seq_len=64, seed=1, backwards=True)
    rows = forward.rows()
    batches = list(backward)
    assert len(batches) == len(forward)
    assert torch.equal(batches[0]["input_ids"], torch.from_numpy(rows[:5, -64:]))  # the end of every row first
    for batch in batches:
        # shift_labels[t] is the token before input_ids[t] (the model reverses both itself).
        assert torch.equal(batch["shift_labels"][:, 1:], batch["input_ids"][:, :-1])
    for previous, current in zip(batches, batches[1:]):
        # Batch k is the text just before batch k-1: its last token is followed by batch k-1's first.
        assert torch.equal(previous["shift_labels"][:, 0], current["input_ids"][:, -1])
    read_back = torch.cat([batch["input_ids"] for batch in reversed(batches)], dim=1)
    np.testing.assert_array_equal(read_back.numpy(), rows[:, 1:])


def test_lm_stream_in_a_dataloader_and_from_plain_lists():
    documents = [[2, 10, 11, 12], [2, 20, 21], [2, 30, 31, 32, 33]]
    stream = LanguageModelStream(documents, batch_size=2, seq_len=2, shuffle=False)
    batches = list(torch.utils.data.DataLoader(stream, batch_size=None))
    # stream 2 10 11 12 2 20 21 2 30 31 32 33 -> rows [2 10 11 12 2 20] [21 2 30 31 32 33]
    assert [b["input_ids"].tolist() for b in batches] == [[[2, 10], [21, 2]], [[11, 12], [30, 31]], [[2], [32]]]
    assert [b["shift_labels"].tolist() for b in batches] == [[[10, 11], [2, 30]], [[12, 2], [31, 32]], [[20], [33]]]


def test_lm_stream_from_a_selected_dataset_reads_the_selected_rows(wikitext_documents):
    rows = [40, 7, 300, 12, 95]
    from_dataset = LanguageModelStream(wikitext_documents.select(rows), batch_size=2, seq_len=8, shuffle=False)
    from_lists = LanguageModelStream(
        [wikitext_documents[i]["input_ids"] for i in rows], batch_size=2, seq_len=8, shuffle=False
    )
    np.testing.assert_array_equal(from_dataset.rows(), from_lists.rows())


def test_lm_stream_bad_inputs(wikitext_documents):
    with pytest.raises(ValueError, match="cannot fill 8 rows"):
        LanguageModelStream([[2, 5, 6]], batch_size=8)
    with pytest.raises(ValueError, match="rank must be in"):
        LanguageModelStream([[2, 5, 6]], batch_size=1, rank=2, world_size=2)
    with pytest.raises(ValueError, match=r"no 'input_ids' column \(columns: \['text'\]\)"):
        LanguageModelStream(datasets.Dataset.from_dict({"text": ["a b"]}), batch_size=1)
    with pytest.raises(ValueError, match="Document 1 is not a 1-D sequence of token ids"):
        LanguageModelStream([[2, 5], [[1, 2]]], batch_size=1)


# ---------------------------------------------------------------------------------------------------------------
# Classification batches
# ---------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def trec_tokenized(data_dir):
    trec = load_text_dataset("trec", data_dir=data_dir)
    tokenizer = train_tokenizer(trec["train"], kind="word", vocab_size=4000)
    return tokenizer, trec, prepare_classification_dataset(trec, tokenizer, num_proc=2)


def test_tokenized_classification_data(trec_tokenized):
    tokenizer, trec, tokenized = trec_tokenized
    assert set(tokenized["train"].column_names) == {"label", "input_ids", "length"}
    assert tokenized["train"]["label"][:] == trec["train"]["label"][:]  # order kept across processes
    assert tokenized["test"][7]["input_ids"] == tokenizer(trec["test"][7]["text"])["input_ids"]
    assert tokenized["train"]["length"][:20] == [len(ids) for ids in tokenized["train"]["input_ids"][:20]]


def test_collator_pads_right_and_gives_labels(trec_tokenized):
    tokenizer, _, tokenized = trec_tokenized
    features = [tokenized["train"][i] for i in range(6)]
    batch = ClassificationCollator(tokenizer)(features)
    assert set(batch) == {"input_ids", "attention_mask", "labels"}
    longest = max(f["length"] for f in features)
    assert batch["input_ids"].shape == (6, longest)
    for row, feature in enumerate(features):
        n = feature["length"]
        assert batch["input_ids"][row, :n].tolist() == feature["input_ids"]
        assert batch["input_ids"][row, n:].eq(tokenizer.pad_token_id).all()
        assert batch["attention_mask"][row].sum() == n
    assert batch["labels"].tolist() == [f["label"] for f in features]


def test_row_limits_take_a_seeded_random_subset_of_a_file_sorted_by_label(tmp_path):
    from hf_ulmfit.recipes.arguments import DataArguments
    from hf_ulmfit.recipes.corpus import load_splits

    folder = tmp_path / "sorted"
    folder.mkdir()
    rows = [f"{'neg' if i < 50 else 'pos'},review number {i}" for i in range(100)]
    for split in ("train", "test"):
        (folder / f"{split}.csv").write_text("label,text\n" + "\n".join(rows) + "\n")
    arguments = dict(dataset=str(folder), max_train_samples=20, max_eval_samples=10, validation_size=0.1)
    first = load_splits(DataArguments(**arguments, split_seed=1), labelled=True)
    assert len(first["test"]) == 10 and len(set(first["test"]["label"])) == 2  # not the first 10 (all 'neg')
    numbers = [int(text.split()[-1]) for text in first["test"]["text"]]
    assert numbers == sorted(numbers)  # drawn at random, kept in the file's order
    again = load_splits(DataArguments(**arguments, split_seed=1), labelled=True)
    assert again["test"]["text"] == first["test"]["text"] and again["train"]["text"] == first["train"]["text"]
    other = load_splits(DataArguments(**arguments, split_seed=2), labelled=True)
    assert other["test"]["text"] != first["test"]["text"]
