"""benchmarks/claims.py (issue 13) end to end on a tiny slice: ladder rows run as library recipes, results are
recorded per run and resumed, and the report writes its table and plots. The numbers mean nothing at this size."""

import json
from pathlib import Path

import pytest
from safetensors.torch import load_file

from benchmarks import claims, claims_definitions, claims_report, imdb_split_gap
from hf_ulmfit.recipes import pretrain


def pretrain_tiny_lm(folder: Path, data_dir: Path, **overrides) -> Path:
    pretrain.main(
        dict(
            dataset="trec",
            data_dir=str(data_dir),
            validation_size=0.1,
            max_train_samples=200,
            max_eval_samples=20,
            vocab_size=300,
            embedding_size=16,
            hidden_size=32,
            num_layers=2,
            max_steps=2,
            per_device_train_batch_size=8,
            eval_strategy="no",
            save_strategy="no",
            disable_tqdm=True,
            output_dir=str(folder),
            **overrides,
        )
    )
    return folder


@pytest.fixture(scope="module")
def tiny_lm(tmp_path_factory, data_dir) -> Path:
    """A tiny pretrained LM (a few steps on TREC questions) standing in for ../shared/models."""
    return pretrain_tiny_lm(tmp_path_factory.mktemp("claims") / "tiny-lm", data_dir)


@pytest.mark.slow
def test_ladder_and_report_on_a_tiny_slice(tiny_lm, tmp_path, data_dir, capsys):
    out = tmp_path / "claims"
    rows = ["ulmfit", "from-scratch", "last"]
    records = tmp_path / "records"
    common = ["--quick", "--lm", str(tiny_lm), "--out", str(out), "--results", str(records), "--seeds", "0"]
    common += ["--data-dir", str(data_dir)]
    claims.main(["ladder", "--rows", *rows, *common])
    printed = capsys.readouterr().out
    # "ulmfit" and "last" start from the same fine-tuned LM: it is trained once.
    assert printed.count("== finetune_lm") == 1 and printed.count("== train_classifier") == 3

    results = {row: json.loads((records / "ladder" / row / "seed0.json").read_text()) for row in rows}
    for row, result in results.items():
        assert result["row"] == row and result["seed"] == 0 and result["quick"]
        assert result["validation_error"] == pytest.approx(100 * (1 - result["validation_accuracy"]))
        assert result["test_error"] == pytest.approx(100 * (1 - result["test_accuracy"]))
        # The record's figures are those the classifier stage itself wrote.
        stage_record = json.loads((Path(result["classifier_dir"]) / "ulmfit_run.json").read_text())
        assert result["test_accuracy"] == stage_record["results"]["test"]["accuracy"]
    finetuned_lm = out / "lm" / "finetuned-fwd" / "trec" / "seed0"
    assert results["ulmfit"]["language_model"] == results["last"]["language_model"] == str(finetuned_lm)
    assert results["from-scratch"]["language_model"] is None

    # "Last" trains only the head: every encoder weight is the fine-tuned LM's; full ULMFiT changes them.
    lm_weights = load_file(finetuned_lm / "model.safetensors")
    for row, unchanged in (("last", True), ("ulmfit", False)):
        weights = load_file(Path(results[row]["classifier_dir"]) / "model.safetensors")
        encoder = [name for name in weights if name.startswith("awd_lstm.")]
        assert encoder and all(name in lm_weights for name in encoder)
        assert all(weights[name].equal(lm_weights[name]) for name in encoder) is unchanged, row
    # From scratch: the pretrained LM's sizes, its own tokenizer trained on the task.
    scratch = json.loads((Path(results["from-scratch"]["classifier_dir"]) / "ulmfit_arguments.json").read_text())
    assert scratch["arguments"]["model_name_or_path"] is None
    assert (scratch["arguments"]["embedding_size"], scratch["arguments"]["hidden_size"]) == (16, 32)

    # Resumable: a second run finds every result and trains nothing.
    claims.main(["ladder", "--rows", *rows, *common])
    assert "==" not in capsys.readouterr().out

    markdown, plots = tmp_path / "CLAIMS.md", tmp_path / "plots"
    discussion = tmp_path / "discussion.md"
    discussion.write_text("## Where the results disagree\n\nA hand-written explanation.\n")
    report = ["report", "--results", str(records), "--markdown", str(markdown), "--plots", str(plots)]
    claims.main([*report, "--discussion", str(discussion)])
    text = markdown.read_text()
    for row in rows:
        label = claims.LADDER_ROWS[row][0]
        line = next(line for line in text.splitlines() if line.startswith(f"| {label} |"))
        paper, validation = line.split(" | ")[1:3]
        assert float(paper) == claims_definitions.PAPER_TREC_VALIDATION_ERROR[row]
        assert validation == f"{results[row]['validation_error']:.2f} (1)"
    assert "Quick mode" in text and text.rstrip().endswith("A hand-written explanation.")
    assert (plots / "claims_ladder.png").stat().st_size > 1000


@pytest.mark.slow
def test_lowshot_on_a_tiny_slice_shares_the_unlabelled_lm_and_plots(tiny_lm, tmp_path, data_dir):
    import pandas as pd

    out, records = tmp_path / "claims", tmp_path / "records"
    common = [
        "--quick",
        "--lm",
        str(tiny_lm),
        "--out",
        str(out),
        "--results",
        str(records),
        "--data-dir",
        str(data_dir),
    ]
    claims.main(["lowshot", "--tasks", "trec", "imdb", "--sizes", "100", "--seeds", "0", "1", *common])

    for task in ("trec", "imdb"):
        for method in claims.LOWSHOT_METHODS:
            for seed in (0, 1):
                result = json.loads((records / "lowshot" / task / method / "n100" / f"seed{seed}.json").read_text())
                assert result["train_documents"] == 100 and result["labels"] == "100" and result["test_error"] >= 0
        # 100 labelled rows (TREC's rarest class, ABBR, is 1.6%: 20 would miss it), drawn per seed and stratified:
        # every class is there, and the seeds draw other rows.
        train = {
            seed: pd.read_parquet(out / "data" / "lowshot" / task / "n100" / f"seed{seed}" / "train.parquet")
            for seed in (0, 1)
        }
        assert len(train[0]) == 100 and train[0]["label"].nunique() == (6 if task == "trec" else 2)
        assert set(train[0]["text"]) != set(train[1]["text"])
    # IMDb's semi-supervised LM reads the unlabelled reviews, not the labels: one LM serves both seeds.
    imdb = [
        json.loads((records / "lowshot" / "imdb" / "semi-supervised" / "n100" / f"seed{seed}.json").read_text())
        for seed in (0, 1)
    ]
    assert imdb[0]["language_model"] == imdb[1]["language_model"]
    supervised = [
        json.loads((records / "lowshot" / "imdb" / "supervised" / "n100" / f"seed{seed}.json").read_text())
        for seed in (0, 1)
    ]
    assert supervised[0]["language_model"] != supervised[1]["language_model"]

    # The linear baseline trains on exactly the rows each seed's classifiers trained on, tested on the same rows.
    claims.main(["baseline", "--tasks", "trec", "imdb", "--sizes", "100", "--seeds", "0", "1", *common])
    linear = {}
    for task in ("trec", "imdb"):
        for seed in (0, 1):
            result = json.loads((records / "baseline" / task / "n100" / f"seed{seed}.json").read_text())
            folder = out / "data" / "lowshot" / task / "n100" / f"seed{seed}"
            assert result["data"] == str(folder) and result["train_documents"] == 100
            assert result["test_documents"] == len(pd.read_parquet(folder / "test.parquet"))
            assert result["C"] in claims.BASELINE_C
            assert result["validation_accuracy"] == max(result["validation_accuracy_per_C"].values())
            assert result["test_error"] == pytest.approx(100 * (1 - result["test_accuracy"]))
            linear[task, seed] = result
    # TREC's largest class is 27.6% of the test questions: 100 labels already take the baseline well above that.
    assert min(linear["trec", seed]["test_accuracy"] for seed in (0, 1)) > 0.4

    # benchmarks/imdb_split_gap on an IMDb draw: the two new sets hold none of the draw's reviews, and the classifier
    # and the baseline fitted on the draw are scored on all four.
    draw = out / "data" / "lowshot" / "imdb" / "n100" / "seed0"
    drawn_texts = set().union(
        *(pd.read_parquet(draw / f"{split}.parquet")["text"] for split in ("train", "validation", "test"))
    )
    _, sets = imdb_split_gap.review_sets(draw, str(data_dir), 30)
    for name in ("unseen train-split reviews", "unseen test-split reviews"):
        assert len(sets[name]) == 30 and not drawn_texts & set(sets[name]["text"])
        assert set(sets[name]["label"]) == {"neg", "pos"}
    classifier_dir = json.loads((records / "lowshot" / "imdb" / "from-scratch" / "n100" / "seed0.json").read_text())[
        "classifier_dir"
    ]
    gap = imdb_split_gap.main(
        ["--data", str(draw), "--classifiers", classifier_dir, "--rows", "30", "--data-dir", str(data_dir)]
    )
    assert gap["rows"]["test (test split)"] == len(pd.read_parquet(draw / "test.parquet"))
    baseline_name = f"linear baseline (C={linear['imdb', 0]['C']:g})"
    assert gap["accuracy"].keys() == {baseline_name, classifier_dir}
    for scores in gap["accuracy"].values():
        assert scores.keys() == sets.keys() and all(0 <= score <= 1 for score in scores.values())
    assert gap["accuracy"][baseline_name]["test (test split)"] == pytest.approx(linear["imdb", 0]["test_accuracy"])

    # --recipe defaults: train-classifier's own defaults (from scratch: its from-scratch recipe), recorded apart.
    defaults = ["lowshot", "--recipe", "defaults", "--tasks", "trec", "--sizes", "100", "--methods", "from-scratch"]
    claims.main([*defaults, "--seeds", "0", *common])
    scratch = json.loads((records / "lowshot-defaults" / "trec" / "from-scratch" / "n100" / "seed0.json").read_text())
    assert scratch["experiment"] == "lowshot-defaults" and scratch["classifier_training"]["learning_rate"] == 3e-3
    config = json.loads((Path(scratch["classifier_dir"]) / "config.json").read_text())
    assert config["bidirectional"] and config["hidden_size"] == 256
    pinned = json.loads((records / "lowshot" / "trec" / "from-scratch" / "n100" / "seed0.json").read_text())
    assert pinned["classifier_training"]["learning_rate"] == 1e-2  # the ladder's recipe, as recorded
    # A from-scratch variant: the same defaults with one setting changed, on the same cell; only with the defaults.
    with pytest.raises(SystemExit):
        claims.main(["lowshot", "--tasks", "trec", "--sizes", "100", "--methods", "from-scratch-gru", *common])
    defaults[-1] = "from-scratch-gru"
    claims.main([*defaults, "--seeds", "0", *common])
    gru = json.loads((records / "lowshot-defaults" / "trec" / "from-scratch-gru" / "n100" / "seed0.json").read_text())
    gru_config = json.loads((Path(gru["classifier_dir"]) / "config.json").read_text())
    assert gru_config["rnn_type"] == "gru" and gru_config["bidirectional"] and gru_config["hidden_size"] == 256
    # A variant of ULMFiT: its LM (fine-tuned on the labelled texts), train-classifier's defaults but what it changes.
    defaults[-1] = "supervised-5-epochs-500-steps"
    claims.main([*defaults, "--seeds", "0", *common])
    longer = json.loads(
        (records / "lowshot-defaults" / "trec" / "supervised-5-epochs-500-steps" / "n100" / "seed0.json").read_text()
    )
    trec_supervised = json.loads((records / "lowshot" / "trec" / "supervised" / "n100" / "seed0.json").read_text())
    assert longer["method"] == "supervised-5-epochs-500-steps"
    assert longer["language_model"] == trec_supervised["language_model"]  # the cell's LM, fine-tuned once
    run_arguments = json.loads((Path(longer["classifier_dir"]) / "ulmfit_arguments.json").read_text())["arguments"]
    assert run_arguments["min_train_steps"] == 500 and run_arguments["num_train_epochs"] == 5
    assert run_arguments["model_name_or_path"] == longer["language_model"]
    # A variant of the semi-supervised LM's text: IMDb's own LM on its own draw of reviews; refused for TREC-6,
    # whose LM reads its train split.
    with pytest.raises(SystemExit):
        claims.main([*defaults[:-1], "semi-supervised-lm-5000-reviews", "--seeds", "0", *common])
    more_text = [*defaults[:3], "--tasks", "imdb", *defaults[5:-1], "semi-supervised-lm-5000-reviews"]
    claims.main([*more_text, "--seeds", "0", *common])
    read_more = json.loads(
        (records / "lowshot-defaults" / "imdb" / "semi-supervised-lm-5000-reviews" / "n100" / "seed0.json").read_text()
    )
    assert read_more["language_model"] != imdb[0]["language_model"]
    lm_arguments = json.loads((Path(read_more["language_model"]) / "ulmfit_arguments.json").read_text())["arguments"]
    assert Path(lm_arguments["dataset"]) == out / "data" / "lm-text" / "imdb-5000" / "seed0"
    default_lm = json.loads((Path(imdb[0]["language_model"]) / "ulmfit_arguments.json").read_text())["arguments"]
    assert Path(default_lm["dataset"]) == out / "data" / "lm-text" / "imdb-1000" / "seed0"
    # A variant of finetune-lm's arguments: an LM of its own, fine-tuned with them, on the default's text.
    claims.main([*more_text[:-1], "semi-supervised-whole-words", "--seeds", "0", *common])
    whole_words = json.loads(
        (records / "lowshot-defaults" / "imdb" / "semi-supervised-whole-words" / "n100" / "seed0.json").read_text()
    )
    lm_folder = Path(whole_words["language_model"])
    assert lm_folder.parts[-3] == "finetuned-fwd-extend_subword_vocabulary-True"
    lm_arguments = json.loads((lm_folder / "ulmfit_arguments.json").read_text())["arguments"]
    assert lm_arguments["extend_subword_vocabulary"] and lm_arguments["dataset"] == default_lm["dataset"]
    assert json.loads((lm_folder / "ulmfit_run.json").read_text())["tokenizer"]["added_tokens"] > 0

    markdown, plots, discussion = tmp_path / "CLAIMS.md", tmp_path / "plots", tmp_path / "discussion.md"
    discussion.write_text("reading\n")
    claims.main(
        [
            "report",
            "--results",
            str(records),
            "--markdown",
            str(markdown),
            "--plots",
            str(plots),
            "--discussion",
            str(discussion),
        ]
    )
    text = markdown.read_text()
    defaults_section, text = text.split("## Low-shot: test error against", 1)
    # The defaults cell is compared with the baseline on its own seed's rows only.
    row = next(line for line in defaults_section.splitlines() if line.startswith("| trec | 100 |")).split(" | ")
    assert row[4:6] == [
        claims_report.spread([scratch["test_error"]]),
        claims_report.spread([linear["trec", 0]["test_error"]]),
    ]
    # The variants' table: a row per setting (the default first), a column per cell where a variant ran; each run
    # with the baseline's error minus its own on the same seeds in brackets (as every table says it), – where not run.
    variants = defaults_section.split("### From scratch: the default and its variants", 1)[1].split("###", 1)[0]
    table = [line.strip("| ").split(" | ") for line in variants.splitlines() if line.startswith("| ")]
    assert table[0] == ["setting", "changed", "trec 100"]
    rows = {row[0]: row[2:] for row in table[1:]}
    ahead = linear["trec", 0]["test_error"]
    assert rows["default"] == [
        f"{claims_report.spread([scratch['test_error']])} [{ahead - scratch['test_error']:+.2f}]"
    ]
    assert rows["GRU cells"] == [f"{claims_report.spread([gru['test_error']])} [{ahead - gru['test_error']:+.2f}]"]
    assert rows["attention pooling"] == ["–"]  # not run
    assert len(rows) == len(claims_definitions.FROM_SCRATCH_VARIANTS) + 2  # the default, the variants, the baseline
    assert rows["TF-IDF + logistic regression"] == [claims_report.spread([linear["trec", 0]["test_error"]])]
    ulmfit_variants = defaults_section.split("### ULMFiT (supervised): the default and its variants", 1)[1]
    ulmfit_variants = ulmfit_variants.split("###", 1)[0]  # this table only
    table = [line.strip("| ").split(" | ") for line in ulmfit_variants.splitlines() if line.startswith("| ")]
    rows = {row[0]: row[2:] for row in table[1:]}
    assert rows["default"] == ["–"]  # not run here; the variant is
    assert rows["5 epochs, at least 500 steps"][0].startswith(claims_report.spread([longer["test_error"]]))
    assert "| trec | 100 |" in text and "| imdb | 100 |" in text
    # Beside each cell: the baseline's error and ULMFiT's margin over it (points of test error, + when ahead).
    for task in ("trec", "imdb"):
        row = next(line for line in text.splitlines() if line.startswith(f"| {task} | 100 |")).strip("| ").split(" | ")
        errors = {
            method: [
                json.loads((records / "lowshot" / task / method / "n100" / f"seed{seed}.json").read_text())[
                    "test_error"
                ]
                for seed in (0, 1)
            ]
            for method in ("supervised", "semi-supervised")
        }
        linear_errors = [linear[task, seed]["test_error"] for seed in (0, 1)]
        assert row[5] == claims_report.spread(linear_errors)
        margins = [sum(linear_errors) / 2 - sum(errors[method]) / 2 for method in ("supervised", "semi-supervised")]
        assert row[6] == " / ".join(f"{margin:+.2f}" for margin in margins)
    assert "beats the linear baseline in" in text
    assert (plots / "claims_lowshot.png").stat().st_size > 1000


@pytest.mark.slow
def test_fwdbwd_on_a_tiny_slice_ensembles_a_forward_and_a_backward_classifier(tiny_lm, tmp_path, data_dir):
    out, records = tmp_path / "claims", tmp_path / "records"
    common = ["--quick", "--lm", str(tiny_lm), "--out", str(out), "--results", str(records), "--seeds", "0"]
    common += ["--tasks", "trec", "--data-dir", str(data_dir)]
    with pytest.raises(SystemExit, match="--backward-lm"):
        claims.main(["fwdbwd", *common])
    backward_lm = pretrain_tiny_lm(tmp_path / "tiny-lm-bwd", data_dir, backwards=True)
    claims.main(["fwdbwd", "--backward-lm", str(backward_lm), *common])

    result = json.loads((records / "fwdbwd" / "trec" / "seed0.json").read_text())
    assert result["labels"] == "all" and result["quick"]
    for direction, short, backwards in (("forward", "fwd", False), ("backward", "bwd", True)):
        folder = Path(result[f"{direction}_dir"])
        assert json.loads((folder / "config.json").read_text())["backwards"] is backwards
        # Each direction's classifier comes from its own LM, fine-tuned on the task, and its accuracy is the one
        # its stage recorded.
        arguments = json.loads((folder / "ulmfit_arguments.json").read_text())["arguments"]
        assert Path(arguments["model_name_or_path"]) == out / "lm" / f"finetuned-{short}" / "trec" / "seed0"
        stage_record = json.loads((folder / "ulmfit_run.json").read_text())
        assert result[f"{direction}_accuracy"] == stage_record["results"]["test"]["accuracy"]
    # The ensemble is `hf-ulmfit evaluate`'s, on the same test rows.
    ensemble = json.loads((out / "ensembles" / "trec" / "seed0" / "eval_results_trec_test.json").read_text())
    assert ensemble["ensemble"] and ensemble["accuracy"] == result["ensemble_accuracy"]
    assert sum(map(sum, ensemble["confusion_matrix"])) == claims.QUICK_SETTINGS["max_eval_samples"]

    markdown, discussion = tmp_path / "CLAIMS.md", tmp_path / "discussion.md"
    discussion.write_text("reading\n")
    claims.main(
        ["report", "--results", str(records), "--markdown", str(markdown), "--plots", str(tmp_path / "plots")]
        + ["--discussion", str(discussion)]
    )
    row = next(line for line in markdown.read_text().splitlines() if line.startswith("| trec | all |"))
    assert row.split(" | ")[4] == f"{100 * result['ensemble_accuracy']:.2f} (1)"


def test_each_method_is_compared_with_the_baseline_on_its_own_seeds(tmp_path):
    """A cell where supervised ran on seeds 0-2 and semi-supervised on seed 0 only: each margin uses the baseline's
    rows of that method's seeds, not the mean over every seed of the cell."""

    def run(method, seed, error):
        return {
            "task": "trec",
            "labels": "300",
            "method": method,
            "seed": seed,
            "test_error": error,
            "test_accuracy": 1 - error / 100,
            "validation_error": error,
            "train_documents": 300,
            "pretrained_lm": "lm",
        }

    results = [run("supervised", seed, 20.0) for seed in (0, 1, 2)] + [run("semi-supervised", 0, 25.0)]
    baseline = [
        {"task": "trec", "labels": "300", "seed": seed, "test_error": 30.0 - 6 * seed, "train_documents": 300}
        for seed in (0, 1, 2)
    ]
    lines = claims_report.lowshot_section(results, baseline, tmp_path / "plot.png", defaults=True)
    row = next(line for line in lines if line.startswith("| trec | 300 |")).strip("| ").split(" | ")
    # Supervised against the 3 seeds' mean (24.0): +4.00; semi-supervised against seed 0's 30.0: +5.00.
    assert row[-1] == "+4.00 / +5.00"
