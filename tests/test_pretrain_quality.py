"""The time-to-quality benchmark's own logic (benchmarks/pretrain_quality.py, bench_utils): where a curve reaches a
perplexity, the unknown-token penalty, the training clock and the report. The benchmark itself trains for an hour
side by side with fastai; here it is fed synthetic runs."""

import json
import math
from types import SimpleNamespace

import pytest

from benchmarks import bench_utils as utils
from benchmarks import pretrain_quality as quality


def curve(*points):
    return [
        {
            "seconds": seconds,
            "step": 10 * (i + 1),
            "tokens_seen": 46_080 * (i + 1),
            "train_loss": 7.0,
            "held_out_token_loss": 7.0,
            "word_perplexity": perplexity * 0.9,
            "word_perplexity_unknown_spread": perplexity,
        }
        for i, (seconds, perplexity) in enumerate(points)
    ]


def test_seconds_to_reach_interpolates_in_log_perplexity():
    points = curve((60, 1000.0), (120, 500.0))
    seconds, bound = quality.seconds_to_reach(points, 700.0, quality.HEADLINE)
    share = (math.log(1000) - math.log(700)) / (math.log(1000) - math.log(500))
    assert seconds == pytest.approx(60 + share * 60) and not bound
    assert quality.seconds_to_reach(points, 2000.0, quality.HEADLINE) == (60, True)  # already below at the first
    assert quality.seconds_to_reach(points, 400.0, quality.HEADLINE) == (None, False)


def test_unknown_spread_penalty():
    assert utils.unknown_spread_penalty(["qx", "zy", "qx"], tokens=10) == pytest.approx(3 * math.log(2) / 10)
    assert utils.unknown_spread_penalty(["qx"], tokens=10) == 0.0  # one string: xxunk names it exactly
    assert utils.word_perplexity(2.0, tokens=150, words=100) == pytest.approx(math.exp(3.0))


def test_training_clock_leaves_snapshot_copies_off_the_clock(monkeypatch):
    now = [0.0]
    monkeypatch.setattr(utils.time, "perf_counter", lambda: now[0])
    clock = utils.TrainingClock(budget_seconds=100, points=4)
    now[0] = 30.0
    assert clock.snapshot_due() and not clock.over_budget()

    def slow_copy():
        now[0] += 40.0  # copying the weights takes 40 s of wall-clock, none of training time
        return "weights"

    assert clock.take(slow_copy) == (30.0, "weights")
    assert clock.elapsed() == 30.0 and not clock.snapshot_due()  # the 25 s snapshot is taken, 50 s is next
    now[0] += 70.0
    assert clock.elapsed() == 100.0 and clock.over_budget()


def test_report_from_runs(tmp_path):
    runs = {
        "fastai": ("fastai", "fastai", curve((450, 9000.0), (900, 6000.0), (1800, 4000.0))),
        "ours-small-unigram-bs16": ("ours", "small-unigram-bs16", curve((120, 5000.0), (240, 3000.0))),
        "ours-small-word-bs16": ("ours", "small-word-bs16", curve((120, 8000.0), (240, 7000.0))),
    }
    for name, (side, recipe, points) in runs.items():
        record = {
            "side": side,
            "recipe": recipe,
            "curve": points,
            "parameters": 7_000_000,
            "vocab_size": 12_000,
            "precision": "fp32",
            "preparation_seconds": 30.0,
            "calibrated_step_seconds": 1.0,
            "planned_steps": 100,
            "budget_seconds": 1800.0,
            "corpus_articles": 50,
            "settings": {},
            "held_out": {
                "articles": 30,
                "words": 50_000,
                "tokens_per_word": 1.5,
                "unknown_types": 10,
                "unknown_token_share": 0.01,
            },
            "versions": {"fastai": "2.8", "torch": "2", "hf_ulmfit": "0.1", "transformers": "5"},
        }
        (tmp_path / f"{name}.json").write_text(json.dumps(record))
    results = tmp_path / "RESULTS-pretraining.md"
    quality.report(SimpleNamespace(out=tmp_path, results=results, quick=True), quality.MODES["quick"])
    text = results.read_text()
    # small-unigram-bs16 passes fastai's final 4,000 between its 2nd and 3rd minute: 2.6 min, 0.09 of 30.
    share = (math.log(5000) - math.log(4000)) / (math.log(5000) - math.log(3000))
    reached = 120 + share * 120
    assert f"after {reached / 60:.1f} minutes, {reached / 1800:.2f} of fastai's 30.0" in text
    assert "**Target met**" in text and "| ours: small-word-bs16 |" in text and "not reached" in text
    assert (tmp_path / "plots" / "pretrain_quality.png").stat().st_size > 0


def test_side_by_side_report_replaces_only_its_own_section(tmp_path):
    held_out = {"articles": 20, "words": 30_000, "tokens_per_word": 1.5, "unknown_types": 1, "unknown_token_share": 0}
    for recipe, points in (
        ("small-unigram", curve((600, 9000.0), (1200, 5000.0))),
        ("small-word-bs16", curve((300, 8000.0), (600, 4000.0), (1200, 3000.0))),
    ):
        for point in points:
            point["cpu_seconds"] = point["seconds"] / 4  # a quarter of a core
        record = {
            "side": "ours",
            "recipe": recipe,
            "curve": points,
            "parameters": 7_000_000,
            "vocab_size": 12_000,
            "precision": "bf16",
            "preparation_seconds": 30.0,
            "calibrated_step_seconds": 1.0,
            "planned_steps": 100,
            "corpus_articles": 50,
            "settings": {"batch_size": 16, "learning_rate": 5e-3},
            "held_out": held_out,
        }
        (tmp_path / f"ours-{recipe}.json").write_text(json.dumps(record))
    results = tmp_path / "RESULTS-pretraining.md"
    results.write_text("# Title\n\nkept text\n")
    args = SimpleNamespace(
        out=tmp_path,
        results=results,
        side_by_side=["small-unigram", "small-word-bs16"],
        hour=False,
        minutes=20.0,
        points=None,
        held_out_articles=None,
    )
    for _ in range(2):  # a second report replaces the first
        text = quality.side_by_side_report(args, {"ours_minutes": 20.0})
        quality.replace_section(results, quality.SIDE_BY_SIDE_START, quality.SIDE_BY_SIDE_END, text)
    written = results.read_text()
    assert written.startswith("# Title\n\nkept text\n") and written.count(quality.SIDE_BY_SIDE_START) == 1
    # the word model passes the reference's final 5,000 between 5 and 10 minutes (log-interpolated): 8.2 min
    share = (math.log(8000) - math.log(5000)) / (math.log(8000) - math.log(4000))
    assert f"after {(300 + share * 300) / 60:.1f} minutes" in written and "**Target met**" in written
    assert "| 16 | 0.005 | bf16 |" in written  # batch and learning rate of each run
    assert "the runs had 25% and 25% of a core on average" in written  # measured, not written in
