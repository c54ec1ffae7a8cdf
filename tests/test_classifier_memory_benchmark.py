"""The classifier-memory benchmark's own logic (benchmarks/classifier_memory.py): the dataset folders it builds from
IMDb (long documents joined from reviews of one label, no row lost) and its report. The benchmark itself runs
`train-classifier` many times; here it builds small folders and reports synthetic runs."""

import pandas
import pytest

from benchmarks import classifier_memory


@pytest.fixture
def memory_benchmark(tmp_path, monkeypatch, data_dir):
    module = classifier_memory
    monkeypatch.setattr(module, "WORK", tmp_path)
    monkeypatch.setattr(module, "DATA", data_dir)
    return module


def test_prepared_folder_joins_reviews_of_one_label_into_long_documents(memory_benchmark):
    folder = memory_benchmark.prepared_folder("12 docs, 3 of 2,000 words", 12, 3, 2_000)
    train, validation = (pandas.read_csv(folder / f"{split}.csv") for split in ("train", "validation"))
    assert len(train) == 12 and len(validation) == memory_benchmark.VALIDATION_DOCUMENTS
    words = train["text"].str.split().str.len()
    assert (words[:3] >= 2_000).all() and (words[3:] < 2_000).all()
    assert set(train["label"]) <= {"neg", "pos"} and train["text"].notna().all()
    # spread lengths: a tenth of the longest up to it
    spread = memory_benchmark.prepared_folder("12 docs, 4 spread", 12, 4, -4_000)
    spread_words = pandas.read_csv(spread / "train.csv")["text"].str.split().str.len()[:4].tolist()
    assert spread_words == sorted(spread_words) and spread_words[0] >= 1_000 and spread_words[-1] >= 4_000


def test_report_puts_each_variant_in_its_column(memory_benchmark, tmp_path):
    base = {"documents": 128, "epochs": 1, "longest_words": 20_000, "mean_words": 800, "exit_code": 0}
    results = [
        {**base, "grid": "long", "variant": "this commit", "peak_rss_mib": 2_500, "seconds": 100.0},
        {**base, "grid": "long", "variant": "before", "peak_rss_mib": 11_000, "seconds": 130.0},
        {**base, "grid": "short", "variant": "this commit", "peak_rss_mib": 1_900, "seconds": 50.0},
        {**base, "grid": "short", "variant": "before", "exit_code": -9, "peak_rss_mib": 0, "seconds": 1.0},
    ]
    text = memory_benchmark.report(results, "python -m benchmarks.classifier_memory", tmp_path / "lm")
    assert "| this commit: peak RSS (MiB), time (s) | before: peak RSS (MiB), time (s) |" in text
    assert "| long | 20,000 | 800 | 2,500, 100 | 11,000, 130 |" in text
    assert "| short | 20,000 | 800 | 1,900, 50 | failed (exit -9) |" in text
