"""ULMFiT's claims on this hardware (issue 13): the paper's ablation ladder on TREC-6, low-shot curves on TREC-6 and
IMDb, forward + backward ensembles, and the report that turns the runs into benchmarks/CLAIMS.md and two plots.

Every run is a recipe of the library's own stage arguments, run by the stages' Python entry points
(`hf_ulmfit.recipes.<stage>.main`, which apply each stage's defaults exactly as `hf-ulmfit STAGE` does): the script
holds no training loop, only which stage runs with which arguments, and where.

    python benchmarks/claims.py ladder  --seeds 0 1 2          # the 7 rows of the paper's ablations, TREC-6
    python benchmarks/claims.py lowshot --seeds 0 1 2          # 100 ... 3,000 labels (and all of TREC), TREC-6 + IMDb
    python benchmarks/claims.py fwdbwd  --backward-lm PATH     # forward, backward and ensemble accuracy
    python benchmarks/claims.py baseline                       # TF-IDF + logistic regression on every cell's rows
    python benchmarks/claims.py report                         # CLAIMS.md, plots/claims_ladder.png, claims_lowshot.png
    ... --quick                                                 # tiny slices and a few steps: a smoke test

Runs are resumable: each writes one JSON file under ``--out`` (``results/...``) and is skipped when it exists; a
language model or classifier folder holding a finished stage (its ``ulmfit_run.json``) is reused, so the rows that
start from the same fine-tuned LM share it (one per seed).
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_utils import ROOT, machine_facts  # noqa: E402


DEFAULT_LM = "auto"  # the main job's choice: the newest forward LM in ../shared/models (quickstart.find_pretrained_lm)
RUN_RECORD_FILE = "ulmfit_run.json"  # what a finished stage leaves in its folder (recipes/outputs.py)
SECONDS_FILE = "claims_seconds.json"  # the wall time of the stage that made a folder, written by this script

# ---- The experiments as library recipes ---------------------------------------------------------------------------

# LM fine-tuning without discriminative LRs or STLR (the paper's "Full"): every layer from the first step, one learning
# rate for all, held constant (a slanted triangle with ratio 1 is flat).
FULL_LM_FINETUNING = dict(
    discriminative_lr_factor=1.0, freeze_all_but_top_epochs=None, lr_schedule="slanted_triangular", stlr_ratio=1.0
)
# The paper's classifier recipe, pinned so that the ladder's "full ULMFiT" row stays the paper's method whatever the
# stage defaults become: gradual unfreezing (the stage's default from a pretrained encoder), discriminative LRs
# (each layer group 1/2.6 of the one above) and STLR (cut_frac 0.1, ratio 32).
PAPER_CLASSIFIER = dict(
    discriminative_lr_factor=2.6, lr_schedule="slanted_triangular", stlr_cut_frac=0.1, stlr_ratio=32.0
)
# Classifier with gradual unfreezing but one constant learning rate for all groups (a triangle with ratio 1 is flat).
GRADUAL_UNFREEZING_ONLY = dict(discriminative_lr_factor=1.0, lr_schedule="slanted_triangular", stlr_ratio=1.0)
# Not in the paper: gradual unfreezing and STLR, one peak LR for all groups (which of discr and STLR helps here).
GRADUAL_UNFREEZING_AND_STLR = dict(PAPER_CLASSIFIER, discriminative_lr_factor=1.0)


# The from-scratch row as recorded: the stage's pretrained-encoder defaults (lr 1e-2, 5 epochs, one direction) with
# the paper's factor 2.6, the pretrained LM's sizes and a unigram tokenizer trained on the task (same_size_as_lm).
LADDER_FROM_SCRATCH = dict(discriminative_lr_factor=2.6, learning_rate=1e-2, num_train_epochs=5, bidirectional=False)


def head_only(epochs: float) -> dict:
    """ "Last": a single stage that trains only the top layer group (the head) for the stage's usual epochs."""
    return dict(fit_schedule="per_stage", stage_epochs=[epochs], stage_trainable_groups=[1])


# name -> (the paper's label, the LM the classifier starts from, train-classifier arguments over its defaults).
# LMs: "finetuned" = finetune-lm from the pretrained LM with its defaults; "finetuned-full" = the same with
# FULL_LM_FINETUNING; "task-only" = pretrain on the task's text alone (no Wikipedia); "pretrained" = the pretrained LM
# itself; None = no LM (a classifier from scratch, with a tokenizer trained on the task).
LADDER_ROWS = {
    "ulmfit": ("full ULMFiT (Freez + discr + STLR)", "finetuned", PAPER_CLASSIFIER),
    "no-pretraining": ("no pretraining", "task-only", {"discriminative_lr_factor": 2.6}),
    "no-lm-finetuning": ("pretrained, no LM fine-tuning", "pretrained", PAPER_CLASSIFIER),
    "lm-full": ('LM fine-tuning without discr/STLR ("Full")', "finetuned-full", PAPER_CLASSIFIER),
    # Pinned to the recipe its records were made with (train-classifier's from-scratch defaults have changed since).
    "from-scratch": ("classifier from scratch", None, LADDER_FROM_SCRATCH),
    "last": ('classifier: only the head trained ("Last")', "finetuned", "head_only"),
    "freez": ('classifier: gradual unfreezing without discr/STLR ("Freez")', "finetuned", GRADUAL_UNFREEZING_ONLY),
    "freez-stlr": ("not in the paper: Freez + STLR, no discr", "finetuned", GRADUAL_UNFREEZING_AND_STLR),
}
# Howard & Ruder (2018), Tables 4, 6 and 7: validation error (%) on TREC-6, 10% of train held out.
PAPER_TREC_VALIDATION_ERROR = {
    "ulmfit": 5.69,
    "no-pretraining": 10.67,
    "no-lm-finetuning": 6.38,
    "lm-full": 6.54,
    "from-scratch": 13.36,
    "last": 16.09,
    "freez": 6.86,
}
PAPER_TEST_ERROR = {"trec": 3.6, "imdb": 4.6}
# Forward / backward / ensemble anchors: the paper's IMDb forward 5.30 and bidirectional 4.6 test error; fastai's book
# 94.3% forward and 95.1% forward+backward on IMDb.
PAPER_FWDBWD = {
    "imdb": "all 25k labels: paper 94.70 forward, 95.40 fwd+bwd (test error 5.30 / 4.6); fastai book 94.3 / 95.1",
    "trec": "paper: 96.4 (fwd+bwd, test error 3.6)",
}

LOWSHOT_METHODS = {
    "supervised": "ULMFiT, supervised (LM fine-tuned on the labelled texts only)",
    "semi-supervised": "ULMFiT, semi-supervised (LM fine-tuned on all the task's text)",
    "from-scratch": "classifier from scratch",
}
# The common variants of the from-scratch classifier (lowshot --recipe defaults only): each is train-classifier's
# from-scratch defaults with one setting changed, measured on the same cells as the default.
FROM_SCRATCH_VARIANTS = {
    "from-scratch-gru": ("GRU cells", {"rnn_type": "gru"}),
    "from-scratch-unidirectional": ("a forward-only encoder", {"bidirectional": False}),
    "from-scratch-attention": ("attention pooling", {"pooling": "attention"}),
}
LOWSHOT_SIZES = ["100", "300", "1000", "3000", "all"]
# lowshot --recipe: "paper" pins each method to its ladder row's recipe (the paper's classifier, the old from-scratch
# recipe); "defaults" runs train-classifier with its own defaults, as a user of the CLI gets them. The records of
# each go to their own experiment (folder) so that the report shows them side by side.
LOWSHOT_EXPERIMENT = {"paper": "lowshot", "defaults": "lowshot-defaults"}
# IMDb classifiers on a CPU budget: the final evaluation only (a review is ~400 tokens), and batches of 16, so that the
# stage's 200 optimizer steps at least (--min_train_steps) read 3,200 reviews, not 12,800 (21 minutes at 1 thread).
IMDB_CLASSIFIER = {"eval_strategy": "no", "per_device_train_batch_size": 16}

# --quick: every stage on a tiny slice for a few optimizer steps (a smoke test of the whole command, not a result).
QUICK_SETTINGS = dict(
    max_train_samples=160,
    max_eval_samples=48,
    max_steps=3,
    eval_strategy="no",
    per_device_train_batch_size=8,
    per_device_eval_batch_size=32,
)
QUICK_TEST_ROWS = 48  # test rows of the materialised low-shot folders in --quick


class Experiments:
    """Runs the stages into folders under `out` and records one JSON file per run."""

    def __init__(self, args):
        self.args = args
        self.out = Path(args.out)
        self.results = Path(args.results)
        self.quick = args.quick
        self.settings = dict(QUICK_SETTINGS) if args.quick else {}
        if args.data_dir:
            self.settings["data_dir"] = args.data_dir

    # ---- Stages -----------------------------------------------------------------------------------------------------

    def stage(self, stage: str, folder: Path, recipe: dict) -> tuple[dict, float]:
        """Run `stage` ("pretrain", "finetune_lm", "train_classifier") into `folder`: its defaults, then `recipe`,
        then this run's budget (--quick). A folder holding a finished run of it is reused. Returns the stage's run
        record and the seconds it took."""
        record_file = folder / RUN_RECORD_FILE
        if not record_file.is_file():
            from importlib import import_module

            entry = import_module(f"hf_ulmfit.recipes.{stage}")
            # No checkpoints (each run is minutes; an interrupted one starts again), a fresh folder every time.
            arguments = dict(
                recipe,
                output_dir=str(folder),
                overwrite_output_dir=True,
                save_strategy="no",
                disable_tqdm=True,
                **self.settings,
            )
            print(f"== {stage} -> {folder}", flush=True)
            start = time.perf_counter()
            entry.main(arguments)
            seconds = time.perf_counter() - start
            (folder / SECONDS_FILE).write_text(
                json.dumps(
                    {"stage": stage, "seconds": seconds, "recipe": arguments, "machine": machine_facts()},
                    indent=2,
                    default=str,
                )
            )
        timing = json.loads((folder / SECONDS_FILE).read_text()) if (folder / SECONDS_FILE).is_file() else {}
        # A run record names folders by their own name only (no local paths): the folder is this one.
        record = {**json.loads(record_file.read_text()), "output_dir": str(folder)}
        return record, timing.get("seconds", float("nan"))

    def lm_config(self, path: str) -> dict:
        return json.loads((Path(path) / "config.json").read_text())

    def same_size_as_lm(self) -> dict:
        """A new model's settings that match the pretrained LM (sizes, vocabulary, dropout), the tokenizer being
        trained on the task's text."""
        config = self.lm_config(self.args.lm)
        vocab_size = self.args.task_vocab_size or config["vocab_size"]
        return dict(
            embedding_size=config["embedding_size"],
            hidden_size=config["hidden_size"],
            num_layers=config["num_layers"],
            tokenizer_kind="unigram",
            vocab_size=vocab_size,
        )

    def language_model(
        self, kind: str, task: str, seed: int, dataset: str | None = None, base: str | None = None
    ) -> tuple[str, float]:
        """The folder of the LM `kind` (see LADDER_ROWS) for `task` and `seed`, trained if not there yet, and the
        seconds it took. `dataset` is the LM's text (default: the task's train split), `base` the pretrained LM."""
        base = base or self.args.lm
        if kind == "pretrained":
            return base, 0.0
        dataset = dataset or task
        direction = "bwd" if self.lm_config(base).get("backwards") else "fwd"
        folder = self.out / "lm" / f"{kind}-{direction}" / self.text_name(dataset) / f"seed{seed}"
        if kind == "task-only":
            model = self.same_size_as_lm()
            recipe = dict(
                dataset=dataset,
                validation_size=0.1,
                num_train_epochs=self.args.task_lm_epochs,
                learning_rate=self.args.task_lm_learning_rate,
                seed=seed,
                backwards=direction == "bwd",
                drop_mult=self.lm_config(base)["drop_mult"],
                **model,
            )
            _, seconds = self.stage("pretrain", folder, recipe)
            return str(folder), seconds
        recipe = dict(model_name_or_path=base, dataset=dataset, seed=seed)
        if kind == "finetuned-full":
            recipe.update(FULL_LM_FINETUNING)
        elif kind != "finetuned":
            raise ValueError(f"unknown language model kind {kind!r}")
        _, seconds = self.stage("finetune_lm", folder, recipe)
        return str(folder), seconds

    def text_name(self, dataset: str) -> str:
        """A folder name for an LM's text: a named dataset's name, or the path of a slice this script wrote."""
        path = Path(dataset)
        data = self.out / "data"
        return "-".join(path.relative_to(data).parts) if path.is_relative_to(data) else path.name

    def classifier(self, folder: Path, dataset: str, seed: int, lm: str | None, recipe: dict) -> tuple[dict, float]:
        """train-classifier into `folder` on `dataset`: from `lm`, or from scratch (same size as the pretrained LM)
        when `lm` is None."""
        arguments = self.classifier_arguments(dataset, seed, lm, recipe)
        if not lm:
            arguments.update(self.same_size_as_lm())
        return self.stage("train_classifier", folder, arguments)

    @staticmethod
    def classifier_arguments(dataset: str, seed: int, lm: str | None, recipe: dict) -> dict:
        """train-classifier's arguments on `dataset`: from `lm`, or from scratch when `lm` is None."""
        return dict(dataset=dataset, seed=seed, **recipe, **({"model_name_or_path": lm} if lm else {}))

    # ---- Results ----------------------------------------------------------------------------------------------------

    def result_file(self, *parts: str) -> Path:
        return self.results.joinpath(*parts[:-1], f"{parts[-1]}.json")

    def record(self, path: Path, experiment: str, seed: int, classifier: dict, seconds: dict, **details) -> dict:
        results = classifier["results"]
        result = {
            "experiment": experiment,
            "seed": seed,
            "quick": self.quick,
            **details,
            "validation_accuracy": results["validation"]["accuracy"],
            "validation_error": 100 * (1 - results["validation"]["accuracy"]),
            "test_accuracy": results.get("test", {}).get("accuracy"),
            "test_error": 100 * (1 - results["test"]["accuracy"]) if "test" in results else None,
            "test_f1": results.get("test", {}).get("f1"),
            "train_documents": classifier["train_documents"],
            "pretrained_lm": self.args.lm,
            "classifier_dir": classifier["output_dir"],
            "classifier_training": classifier["training"],
            "seconds": seconds,
            "machine": machine_facts(),
            "versions": versions(),
        }
        test_error = result["test_error"] if result["test_error"] is None else round(result["test_error"], 2)
        save_result(
            path,
            result,
            f"{path.relative_to(self.results)}: validation error {result['validation_error']:.2f}%, "
            f"test error {test_error}%",
        )
        return result

    # ---- 1. The ladder ----------------------------------------------------------------------------------------------

    def ladder(self) -> None:
        for name in self.args.rows:
            label, lm_kind, recipe = LADDER_ROWS[name]
            if recipe == "head_only":
                from hf_ulmfit.recipes import train_classifier

                recipe = head_only(train_classifier.TRAINING_DEFAULTS["num_train_epochs"])
            for seed in self.args.seeds:
                path = self.result_file("ladder", name, f"seed{seed}")
                if path.is_file():
                    continue
                lm, lm_seconds = self.language_model(lm_kind, "trec", seed) if lm_kind else (None, 0.0)
                classifier, seconds = self.classifier(
                    self.out / "classifiers" / "ladder" / name / f"seed{seed}", "trec", seed, lm, recipe
                )
                self.record(
                    path,
                    "ladder",
                    seed,
                    classifier,
                    {"language_model": lm_seconds, "classifier": seconds},
                    row=name,
                    label=label,
                    language_model=lm,
                    classifier_recipe=recipe,
                    task="trec",
                )

    # ---- 2. Low-shot ------------------------------------------------------------------------------------------------

    def lowshot_data(self, task: str, size: str, seed: int) -> str:
        """The dataset a low-shot run trains on: `size` labelled training rows drawn at random, stratified by label,
        with `seed`, from the train split that train-classifier holds out its validation split from (10%, split seed
        42), written as a dataset folder (train/validation/test Parquet) that finetune-lm and train-classifier both
        read; the validation and test rows are the same for every size and seed.

        Written here because `--max_train_samples` takes the first N rows of the split (a random but not stratified
        draw, and finetune-lm, which reads the data without labels, holds out another validation split, so its first
        N rows are other texts), and `--max_eval_samples` the first N test rows (IMDb's test file is sorted by label:
        its first 5,000 reviews are all negative)."""
        if task == "trec" and size == "all":
            return "trec"  # the ladder's data: the same classifiers serve both experiments
        folder = self.out / "data" / "lowshot" / task / f"n{size}" / f"seed{seed}"
        if (folder / "test.parquet").is_file():
            return str(folder)
        from hf_ulmfit.recipes.arguments import DataArguments
        from hf_ulmfit.recipes.corpus import load_splits

        splits = load_splits(DataArguments(dataset=task, data_dir=self.args.data_dir), labelled=True)
        names = splits["train"].features["label"].names
        train = stratified_sample(splits["train"], None if size == "all" else int(size), seed)
        limits = {"validation": self.args.max_validation.get(task), "test": self.args.max_test.get(task)}
        if self.quick:
            limits = {split: min(limit or QUICK_TEST_ROWS, QUICK_TEST_ROWS) for split, limit in limits.items()}
        folder.mkdir(parents=True, exist_ok=True)
        for split, rows in [
            ("train", train),
            ("validation", stratified_sample(splits["validation"], limits["validation"], 42)),
            ("test", stratified_sample(splits["test"], limits["test"], 42)),
        ]:
            table = rows.select_columns(["text", "label"]).to_pandas()
            table["label"] = [names[label] for label in table["label"]]
            table.to_parquet(folder / f"{split}.parquet.tmp")
            os.replace(folder / f"{split}.parquet.tmp", folder / f"{split}.parquet")
        return str(folder)

    def semi_supervised_text(self, task: str, seed: int) -> str:
        """The semi-supervised LM's text: TREC's train split as the named dataset (finetune-lm's own default, the
        ladder's fine-tuned LM); for IMDb, --imdb-lm-texts reviews drawn with `seed` from train and the 50k unlabelled
        ones (all 75k with 0), written as a folder, with 500 of the validation reviews to evaluate on."""
        if task == "trec":
            return "trec"
        count = self.args.imdb_lm_texts if not self.quick else QUICK_SETTINGS["max_train_samples"]
        folder = self.out / "data" / "lm-text" / f"{task}-{count or 'all'}" / f"seed{seed}"
        if (folder / "validation.parquet").is_file():
            return str(folder)
        import datasets

        from hf_ulmfit.recipes.arguments import DataArguments
        from hf_ulmfit.recipes.corpus import load_splits

        splits = load_splits(DataArguments(dataset=task, data_dir=self.args.data_dir), labelled=True)
        text = datasets.concatenate_datasets(
            [splits["train"].select_columns(["text"]), splits["unsupervised"].select_columns(["text"])]
        )
        if count and count < len(text):
            text = text.shuffle(seed=seed).select(range(count))
        folder.mkdir(parents=True, exist_ok=True)
        for split, rows in [("train", text), ("validation", splits["validation"].select(range(500)))]:
            rows.select_columns(["text"]).to_pandas().to_parquet(folder / f"{split}.parquet.tmp")
            os.replace(folder / f"{split}.parquet.tmp", folder / f"{split}.parquet")
        return str(folder)

    def lowshot_run(
        self, task: str, method: str, size: str, seed: int, base: str | None = None, name: str | None = None
    ) -> tuple[dict, float, str | None]:
        """One low-shot classifier (trained if needed): its run record, the seconds its stages took, its LM.
        With --recipe defaults the classifier runs with train-classifier's own defaults (from scratch: its
        from-scratch recipe), as a user of the CLI gets them, instead of the ladder row's pinned recipe."""
        defaults = self.args.recipe == "defaults"
        data = self.lowshot_data(task, size, seed)
        if method == "from-scratch" or method in FROM_SCRATCH_VARIANTS:
            lm, lm_seconds = None, 0.0
        elif method == "supervised":
            lm, lm_seconds = self.language_model("finetuned", task, seed, dataset=data, base=base)
        elif method == "semi-supervised":
            # TREC: the ladder's LM of this seed. IMDb: one LM for every seed (its text, the unlabelled reviews,
            # does not depend on the labels a seed draws), because an IMDb LM costs what all its classifiers do.
            lm_seed = seed if task == "trec" else 0
            text = self.semi_supervised_text(task, lm_seed)
            lm, lm_seconds = self.language_model("finetuned", task, lm_seed, dataset=text, base=base)
            lm_seconds = lm_seconds if lm_seed == seed else 0.0  # counted once, in the run that trained it
        else:
            raise ValueError(f"unknown low-shot method {method!r}")
        if defaults:  # nothing pinned: the CLI's defaults, IMDb's too (batch 64, evaluation every epoch)
            folder = (
                self.out / "classifiers" / LOWSHOT_EXPERIMENT["defaults"] / task / method / f"n{size}" / f"seed{seed}"
            )
            variant = FROM_SCRATCH_VARIANTS.get(method, ("", {}))[1]
            classifier, seconds = self.stage(
                "train_classifier", folder, self.classifier_arguments(data, seed, lm, variant)
            )
            return classifier, lm_seconds + seconds, lm
        # All of TREC: its text is its labelled questions, so both ULMFiT methods are the ladder's full ULMFiT.
        ladder_row = {"supervised": "ulmfit", "semi-supervised": "ulmfit", "from-scratch": "from-scratch"}[method]
        # The ladder row's recipe, pinned (the paper's discr 2.6, whatever the stage default has become since).
        recipe = {**LADDER_ROWS[ladder_row][2], **(IMDB_CLASSIFIER if task == "imdb" else {})}
        if task == "trec" and size == "all" and base is None:
            # The same recipe on the same data as the ladder's row: its classifiers serve both experiments.
            folder = self.out / "classifiers" / "ladder" / ladder_row / f"seed{seed}"
        else:
            folder = self.out / "classifiers" / (name or "lowshot") / task / method / f"n{size}" / f"seed{seed}"
        classifier, seconds = self.classifier(folder, data, seed, lm, recipe)
        return classifier, lm_seconds + seconds, lm

    def lowshot(self) -> None:
        for task in self.args.tasks:
            for size in self.args.sizes:
                if size == "all" and task != "trec":
                    continue  # all of IMDb's 25k labels do not fit a CPU budget
                for method in self.args.methods:
                    for seed in self.args.seeds:
                        experiment = LOWSHOT_EXPERIMENT[self.args.recipe]
                        path = self.result_file(experiment, task, method, f"n{size}", f"seed{seed}")
                        if path.is_file():
                            continue
                        classifier, seconds, lm = self.lowshot_run(task, method, size, seed)
                        self.record(
                            path,
                            experiment,
                            seed,
                            classifier,
                            {"total": seconds},
                            task=task,
                            method=method,
                            labels=size,
                            language_model=lm,
                        )

    # ---- Linear baseline --------------------------------------------------------------------------------------------

    def baseline(self) -> None:
        """TF-IDF + logistic regression on exactly the labelled, validation and test rows of every low-shot cell
        (TREC 'all' is also the ladder's data): what a user without ULMFiT trains first, in seconds."""
        from hf_ulmfit.recipes.arguments import DataArguments
        from hf_ulmfit.recipes.corpus import load_splits

        for task in self.args.tasks:
            for size in self.args.sizes:
                if size == "all" and task != "trec":
                    continue
                for seed in self.args.seeds:
                    path = self.result_file("baseline", task, f"n{size}", f"seed{seed}")
                    if path.is_file():
                        continue
                    data = self.lowshot_data(task, size, seed)
                    splits = load_splits(
                        DataArguments(
                            dataset=data,
                            data_dir=self.args.data_dir,
                            # --quick: the rows train-classifier's own limits leave it
                            max_train_samples=self.settings.get("max_train_samples"),
                            max_eval_samples=self.settings.get("max_eval_samples"),
                        ),
                        labelled=True,
                    )
                    start = time.perf_counter()
                    scores = linear_baseline(splits["train"], splits["validation"], splits["test"])
                    result = {
                        "experiment": "baseline",
                        "task": task,
                        "labels": size,
                        "seed": seed,
                        "quick": self.quick,
                        "method": LINEAR_BASELINE,
                        **scores,
                        "validation_error": 100 * (1 - scores["validation_accuracy"]),
                        "test_error": 100 * (1 - scores["test_accuracy"]),
                        "train_documents": len(splits["train"]),
                        "validation_documents": len(splits["validation"]),
                        "test_documents": len(splits["test"]),
                        "data": data,
                        "seconds": {"baseline": time.perf_counter() - start},
                        "machine": machine_facts(),
                        "versions": {**versions(), "scikit-learn": sklearn_version()},
                    }
                    save_result(
                        path,
                        result,
                        f"{path.relative_to(self.results)}: C {scores['C']}, validation error "
                        f"{result['validation_error']:.2f}%, test error {result['test_error']:.2f}%",
                    )

    # ---- 3. Forward + backward --------------------------------------------------------------------------------------

    def fwdbwd(self) -> None:
        if not self.args.backward_lm:
            raise SystemExit(
                "fwdbwd needs --backward-lm (made by `hf-ulmfit pretrain ... --backwards true` with the "
                "forward LM's command, see ../shared/models/README.md)"
            )
        for task in self.args.tasks:
            size = "all" if task == "trec" else str(self.args.fwdbwd_imdb_labels)
            for seed in self.args.seeds:
                path = self.result_file("fwdbwd", task, f"seed{seed}")
                if path.is_file():
                    continue
                forward, forward_seconds, _ = self.lowshot_run(task, "semi-supervised", size, seed)
                backward, backward_seconds, _ = self.lowshot_run(
                    task, "semi-supervised", size, seed, base=self.args.backward_lm, name="fwdbwd-backward"
                )
                data = self.lowshot_data(task, size, seed)
                ensemble = ensemble_results(
                    forward["output_dir"],
                    backward["output_dir"],
                    data,
                    self.settings,
                    self.out / "ensembles" / task / f"seed{seed}",
                )
                result = {
                    "experiment": "fwdbwd",
                    "task": task,
                    "labels": size,
                    "seed": seed,
                    "quick": self.quick,
                    "forward_accuracy": forward["results"]["test"]["accuracy"],
                    "backward_accuracy": backward["results"]["test"]["accuracy"],
                    "ensemble_accuracy": ensemble["accuracy"],
                    "ensemble_f1": ensemble["f1"],
                    "forward_dir": forward["output_dir"],
                    "backward_dir": backward["output_dir"],
                    "seconds": {"forward": forward_seconds, "backward": backward_seconds},
                    "machine": machine_facts(),
                    "versions": versions(),
                }
                save_result(
                    path,
                    result,
                    f"{task} seed {seed}: forward {result['forward_accuracy']:.4f}, backward "
                    f"{result['backward_accuracy']:.4f}, ensemble {result['ensemble_accuracy']:.4f}",
                )


def save_result(path: Path, result: dict, line: str) -> None:
    """Write one run's JSON record (its presence marks the run done) and print its one-line summary."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2, default=str))
    print(f"   {line}", flush=True)


def ensemble_results(forward_dir: str, backward_dir: str, dataset: str, settings: dict, results_dir: Path) -> dict:
    """Test metrics of the library's forward+backward ensemble (probabilities averaged): `hf-ulmfit evaluate
    --backward_model_name_or_path`. The one place this script calls it."""
    from hf_ulmfit.recipes import evaluate_model
    from hf_ulmfit.recipes.arguments import DataArguments

    data_args = DataArguments(
        dataset=dataset, data_dir=settings.get("data_dir"), max_eval_samples=settings.get("max_eval_samples")
    )
    arguments = evaluate_model.EvaluateArguments(
        model_name_or_path=forward_dir,
        backward_model_name_or_path=backward_dir,
        split="test",
        results_dir=str(results_dir),
    )
    return evaluate_model.run(arguments, data_args)


LINEAR_BASELINE = "TF-IDF (word 1-2-grams + char 2-5-grams) + logistic regression, C chosen on validation"
BASELINE_C = (1.0, 10.0, 100.0)  # inverse regularisation strengths tried; the best validation accuracy wins


def linear_baseline(train, validation, test) -> dict:
    """The linear baseline (scikit-learn, the `benchmark` extra): sublinear TF-IDF of word 1-2-grams and of
    character 2-5-grams (within word boundaries), fitted on the training texts, then logistic regression for each C
    of BASELINE_C; the C with the best validation accuracy (the smallest on a tie) is scored on test."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, f1_score
    from sklearn.pipeline import make_union

    features = make_union(
        TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True),
        TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True),
    )
    x_train = features.fit_transform(train["text"])
    x_validation, x_test = features.transform(validation["text"]), features.transform(test["text"])
    fitted = {C: LogisticRegression(C=C, max_iter=2000).fit(x_train, train["label"]) for C in BASELINE_C}
    validation_accuracy = {
        C: accuracy_score(validation["label"], model.predict(x_validation)) for C, model in fitted.items()
    }
    best = max(BASELINE_C, key=lambda C: (validation_accuracy[C], -C))
    predictions = fitted[best].predict(x_test)
    return {
        "C": best,
        "validation_accuracy_per_C": {str(C): accuracy for C, accuracy in validation_accuracy.items()},
        "validation_accuracy": validation_accuracy[best],
        "test_accuracy": accuracy_score(test["label"], predictions),
        "test_f1": f1_score(test["label"], predictions, average="macro"),
        "features": x_train.shape[1],
    }


def sklearn_version() -> str:
    import sklearn

    return sklearn.__version__


def stratified_sample(rows, count: int | None, seed: int):
    """`count` rows drawn at random with `seed`, stratified by label (all rows, in their order, when None or more)."""
    if count is None or count >= len(rows):
        return rows
    return rows.train_test_split(train_size=count, seed=seed, stratify_by_column="label")["train"]


# ---- Facts about the run -----------------------------------------------------------------------------------------


def versions() -> dict:
    import torch
    import transformers

    import hf_ulmfit

    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=10
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "hf_ulmfit": getattr(hf_ulmfit, "__version__", "?"),
        "commit": commit,
    }


# ---- 4. The report -------------------------------------------------------------------------------------------------


def load_results(results: Path, experiment: str) -> list[dict]:
    folder = results / experiment
    return [json.loads(path.read_text()) for path in sorted(folder.rglob("seed*.json"))] if folder.is_dir() else []


def mean_std(values: list[float]) -> tuple[float, float]:
    values = [value for value in values if value is not None]
    if not values:
        return float("nan"), float("nan")
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def spread(values: list[float], digits: int = 2) -> str:
    """Mean ± standard deviation (number of runs); one run has no spread to show."""
    mean, std = mean_std(values)
    if mean != mean:
        return "–"
    if len(values) == 1:
        return f"{mean:.{digits}f} (1)"
    return f"{mean:.{digits}f} ± {std:.{digits}f} ({len(values)})"


def grouped(results: list[dict], *keys: str) -> dict:
    groups = {}
    for result in results:
        groups.setdefault(tuple(result[key] for key in keys), []).append(result)
    return groups


def report(args) -> Path:
    results = Path(args.results)
    ladder, lowshot, lowshot_defaults, fwdbwd, baseline = (
        load_results(results, name) for name in ("ladder", "lowshot", "lowshot-defaults", "fwdbwd", "baseline")
    )
    everything = ladder + lowshot + lowshot_defaults + fwdbwd + baseline
    if not everything:
        raise SystemExit(f"no results under {results}: run ladder, lowshot or fwdbwd first")
    plots = Path(args.plots)
    plots.mkdir(parents=True, exist_ok=True)
    lines = [
        "# ULMFiT's claims, reproduced on this machine",
        "",
        "Made by `python benchmarks/claims.py report` from the run records in `benchmarks/claims_results/` that "
        "`ladder`, `lowshot` and `fwdbwd` wrote (each run a recipe of the stages' own arguments, see "
        "`benchmarks/claims.py`). Errors are in %, "
        "mean ± standard deviation over seeds (the number of seeds in brackets).",
        "",
    ]
    if any(result["quick"] for result in everything):
        lines += [
            "**Quick mode**: tiny slices and a few steps per stage. These numbers test the command, they say "
            "nothing about ULMFiT.",
            "",
        ]
    lines += setup_section(everything)
    if ladder:
        lines += ladder_section(ladder, baseline, plots / "claims_ladder.png")
    if lowshot_defaults:
        lines += lowshot_section(lowshot_defaults, baseline, plots / "claims_lowshot_defaults.png", defaults=True)
    if lowshot:
        lines += lowshot_section(lowshot, baseline, plots / "claims_lowshot.png")
    if fwdbwd:
        lines += fwdbwd_section(fwdbwd, baseline)
    discussion = Path(args.discussion)
    if not discussion.is_file():
        raise SystemExit(f"--discussion {discussion}: no such file (the hand-written reading of the results)")
    lines += [discussion.read_text().rstrip(), ""]
    markdown = Path(args.markdown)
    markdown.parent.mkdir(parents=True, exist_ok=True)
    markdown.write_text("\n".join(lines))
    print(f"wrote {markdown}")
    return markdown


def setup_section(results: list[dict]) -> list[str]:
    machines = sorted(
        {
            f"{r['machine']['cpu']}, {r['machine']['cores']} cores, "
            f"{'/'.join(r['machine'].get('isa', [])) or 'ISA unknown'}"
            for r in results
        }
    )
    loads = [load for r in results for load in r["machine"]["load_average"][:1]]
    versions_seen = sorted(
        {", ".join(f"{key} {value}" for key, value in r["versions"].items() if key != "scikit-learn") for r in results}
    )
    seeds = sorted({r["seed"] for r in results})
    hours = sum(value for r in results for value in r["seconds"].values() if value == value) / 3600
    return [
        "## Setup",
        "",
        f"- Machine: {'; '.join(machines)}; 1-minute load average while runs were recorded "
        f"{min(loads):.1f} to {max(loads):.1f}.",
        f"- Versions: {'; '.join(versions_seen)}.",
        f"- Seeds: {', '.join(map(str, seeds))} (the training seed of every stage; the validation split, 10% of "
        "train stratified, is the same for all: split seed 42).",
        f"- Budget: {hours:.2f} hours of stage time in all (a fine-tuned LM shared by several rows counts once "
        "per run that trained it). Each stage ran with its own defaults unless a row says otherwise.",
        "",
    ]


def baseline_groups(baseline: list[dict]) -> dict:
    """The linear baseline's runs by (task, labels)."""
    return grouped(baseline, "task", "labels")


def against(ulmfit: list[float], baseline: list[float]) -> str:
    """How far a method's mean test error is below the linear baseline's on the same rows, in points: '+2.10' is
    2.10 points fewer errors than the baseline (the method wins), '-2.10' 2.10 more (it loses)."""
    ours, theirs = mean_std(ulmfit)[0], mean_std(baseline)[0]
    if ours != ours or theirs != theirs:
        return "–"
    return f"{theirs - ours:+.2f}"


def ladder_section(results: list[dict], baseline: list[dict], plot: Path) -> list[str]:
    groups = grouped(results, "row")
    linear = baseline_groups(baseline).get(("trec", "all"), [])
    linear_test = [r["test_error"] for r in linear]
    lines = [
        "## The ablation ladder on TREC-6",
        "",
        "Validation: 10% of train held out (545 questions); test: the 500 TREC test questions. Paper: validation "
        "error, Howard & Ruder (2018), Tables 4, 6, 7. Last column: the row's mean test error below the linear "
        "baseline's on the same rows (points; negative: the row loses to it).",
        "",
        "| row | paper (validation) | validation error | test error | minutes per run (LM + classifier) "
        "| against the linear baseline |",
        "|---|---|---|---|---|---|",
    ]
    for name in LADDER_ROWS:
        if (name,) not in groups:
            continue
        runs = groups[(name,)]
        minutes = [sum(run["seconds"].values()) / 60 for run in runs]
        paper = PAPER_TREC_VALIDATION_ERROR.get(name)
        lines.append(
            f"| {LADDER_ROWS[name][0]} | {'–' if paper is None else f'{paper:.2f}'} | "
            f"{spread([r['validation_error'] for r in runs])} | {spread([r['test_error'] for r in runs])} | "
            f"{spread(minutes, 1)} | {against([r['test_error'] for r in runs], linear_test)} |"
        )
    if linear:
        lines.append(
            f"| {LINEAR_BASELINE} | – | {spread([r['validation_error'] for r in linear])} | {spread(linear_test)} | "
            f"{spread([sum(r['seconds'].values()) / 60 for r in linear], 1)} | 0 |"
        )
    lines += [
        "",
        f"Paper's test error of the full method: {PAPER_TEST_ERROR['trec']} (TREC-6).",
        "",
        f"![ladder](plots/{plot.name})",
        "",
    ]
    plot_ladder(groups, linear, plot)
    return lines


def lowshot_section(results: list[dict], baseline: list[dict], plot: Path, defaults: bool = False) -> list[str]:
    """The low-shot table: `lowshot` (each method's ladder recipe, pinned) or, with `defaults`, `lowshot --recipe
    defaults` (train-classifier's own defaults, from the LM its records name)."""
    groups = grouped(results, "task", "method", "labels")
    linear = baseline_groups(baseline)
    if defaults:
        models = ", ".join(sorted({f"`{Path(r['pretrained_lm']).name}`" for r in results}))
        heading = [
            "## Low-shot with the CLI's defaults (test error against the number of labelled examples)",
            "",
            f"`claims.py lowshot --recipe defaults`: every stage with its own defaults, as a user gets them, from the "
            f"pretrained LM {models}. ULMFiT: `finetune-lm` on the labelled texts (supervised) or on the task's "
            "text (semi-supervised), then `train-classifier` (5 epochs, STLR to 1e-2, one LR for all groups, "
            "gradual unfreezing, at least 200 steps, batch 64). From scratch: `train-classifier` without a language "
            "model, i.e. its from-scratch recipe (word-level tokenizer, bidirectional 128/256 2-layer LSTM, lr 3e-3, "
            "8 epochs). Cells and seeds not run yet show –.",
            "",
        ]
    else:
        heading = ["## Low-shot: test error against the number of labelled examples", ""]
    lines = heading + [
        "Each run draws its labelled examples at random, stratified, with its seed; validation and test rows are "
        "the same for all runs (IMDb: a fixed stratified subset of the test reviews). TREC 'all' is its whole "
        "train split less the validation 10%. The linear baseline "
        f"({LINEAR_BASELINE}) trains on exactly the labelled rows of each seed's draw and is tested on the same "
        "rows. Last column: how many points of test error ULMFiT (supervised / semi-supervised) has below the "
        "baseline (negative: ULMFiT loses).",
        "",
        "| task | labels | "
        + " | ".join(LOWSHOT_METHODS.values())
        + " | TF-IDF + logistic regression | ULMFiT against the baseline (sup. / semi) |",
        "|---|---|" + "---|" * (len(LOWSHOT_METHODS) + 2),
    ]
    tasks = sorted({r["task"] for r in results})
    sizes = sizes_of(results)
    verdicts = []
    for task in tasks:
        for size in sizes:
            errors = {
                method: [r["test_error"] for r in groups.get((task, method, size), [])] for method in LOWSHOT_METHODS
            }
            # The baseline on the seeds (labelled draws) the row's runs used, so that a cell run on fewer seeds
            # is compared with the baseline on the same rows.
            seeds = {r["seed"] for method in LOWSHOT_METHODS for r in groups.get((task, method, size), [])}
            linear_errors = [r["test_error"] for r in linear.get((task, size), []) if r["seed"] in seeds]
            cells = [spread(errors[method]) for method in LOWSHOT_METHODS] + [spread(linear_errors)]
            margins = [against(errors[method], linear_errors) for method in ("supervised", "semi-supervised")]
            if any(cell != "–" for cell in cells[:-1]):
                lines.append(f"| {task} | {size} | " + " | ".join(cells) + f" | {' / '.join(margins)} |")
                verdicts.append((task, size, margins))
    lines += baseline_verdicts(verdicts)
    if defaults:
        lines += from_scratch_variants_table(groups, linear, tasks, sizes)
    lines += [
        "",
        "Where ULMFiT with N labels matches training from scratch (the smallest size tried at which the "
        "from-scratch classifier's mean test error is as low):",
        "",
    ]
    for task in tasks:
        scratch = {
            size: mean_std([r["test_error"] for r in groups.get((task, "from-scratch", size), [])])[0]
            for size in sizes
        }
        for method in ("supervised", "semi-supervised"):
            for size in sizes:
                error = mean_std([r["test_error"] for r in groups.get((task, method, size), [])])[0]
                if error != error or size == "all":
                    continue
                match = next(
                    (other for other in sizes if scratch[other] == scratch[other] and scratch[other] <= error),
                    None,
                )
                if match == "all":
                    match = f"all {groups[(task, 'from-scratch', 'all')][0]['train_documents']:,}"
                lines.append(
                    f"- {task}, {method}, {size} labels ({error:.2f}%): from scratch needs "
                    f"{match + ' labels' if match else 'more labels than any size tried'}."
                )
    lines += [
        "",
        "Paper: with 100 labels ULMFiT matches training from scratch on 10x (supervised) to 100x "
        "(semi-supervised) the data.",
        "",
        f"![low-shot](plots/{plot.name})",
        "",
    ]
    plot_lowshot(groups, linear, tasks, sizes, plot)
    return lines


def from_scratch_variants_table(groups: dict, linear: dict, tasks: list[str], sizes: list[str]) -> list[str]:
    """The from-scratch default beside its variants (one setting changed each) and the linear baseline, on the cells
    where a variant ran; the last column: the default's test error above the baseline's (the target: at most 3)."""
    methods = ["from-scratch", *FROM_SCRATCH_VARIANTS]
    rows = []
    for task in tasks:
        for size in sizes:
            runs = {method: groups.get((task, method, size), []) for method in methods}
            if not any(runs[variant] for variant in FROM_SCRATCH_VARIANTS):
                continue
            seeds = {r["seed"] for method in methods for r in runs[method]}
            linear_errors = [r["test_error"] for r in linear.get((task, size), []) if r["seed"] in seeds]
            cells = [spread([r["test_error"] for r in runs[method]]) for method in methods]
            default_errors = [r["test_error"] for r in runs["from-scratch"]]
            gap = mean_std(default_errors)[0] - mean_std(linear_errors)[0]
            cells += [spread(linear_errors), f"{gap:+.2f}" if gap == gap else "–"]
            rows.append(f"| {task} | {size} | " + " | ".join(cells) + " |")
    if not rows:
        return []
    return [
        "",
        "### From scratch: the default and its variants",
        "",
        "Test error of `train-classifier` without a language model: its default (a bidirectional LSTM with concat "
        "pooling) and the variants a Keras/PyTorch tutorial user tries, each the default with one setting changed "
        "("
        + "; ".join(f"{label}: `{flags}`" for label, flags in FROM_SCRATCH_VARIANTS.values())
        + "). Last column: the default's test error minus the baseline's (the target is at most +3 points).",
        "",
        "| task | labels | from scratch (default) | "
        + " | ".join(label for label, _ in FROM_SCRATCH_VARIANTS.values())
        + " | TF-IDF + logistic regression | default against the baseline |",
        "|---|---|" + "---|" * (len(methods) + 2),
        *rows,
    ]


def baseline_verdicts(verdicts: list[tuple[str, str, list[str]]]) -> list[str]:
    """One line: in which cells ULMFiT (the better of its two methods) beats the linear baseline, and by how much."""
    wins, losses = [], []
    for task, size, margins in verdicts:
        known = [float(margin) for margin in margins if margin != "–"]
        if known:
            (wins if max(known) > 0 else losses).append(f"{task} {size} ({max(known):+.2f})")
    if not wins and not losses:
        return []
    return [
        "",
        f"ULMFiT (the better of supervised and semi-supervised) beats the linear baseline in {len(wins)} of "
        f"{len(wins) + len(losses)} cells: "
        + (", ".join(wins) or "none")
        + "; it loses in "
        + (", ".join(losses) or "none")
        + " (test error points below the baseline's).",
    ]


def fwdbwd_section(results: list[dict], baseline: list[dict]) -> list[str]:
    groups = grouped(results, "task")
    linear = baseline_groups(baseline)
    lines = [
        "## Forward, backward and the ensemble (test accuracy, %)",
        "",
        "Semi-supervised ULMFiT in each direction (LM fine-tuned from the forward or the backward pretrained "
        "LM), then the library's ensemble (`hf-ulmfit evaluate --backward_model_name_or_path`, probabilities "
        "averaged).",
        "",
        "| task | labels | forward | backward | ensemble | TF-IDF + logistic regression (same rows) | paper |",
        "|---|---|---|---|---|---|---|",
    ]
    for (task,), runs in sorted(groups.items()):
        accuracy = {key: [100 * r[f"{key}_accuracy"] for r in runs] for key in ("forward", "backward", "ensemble")}
        cells = [spread(accuracy[key]) for key in ("forward", "backward", "ensemble")]
        seeds = {r["seed"] for r in runs}
        cells.append(
            spread([100 * r["test_accuracy"] for r in linear.get((task, runs[0]["labels"]), []) if r["seed"] in seeds])
        )
        lines.append(f"| {task} | {runs[0]['labels']} | {' | '.join(cells)} | {PAPER_FWDBWD.get(task, '')} |")
    return lines + [""]


def pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_ladder(groups: dict, linear: list[dict], path: Path) -> None:
    plt = pyplot()
    names = [name for name in LADDER_ROWS if (name,) in groups]
    means = [mean_std([r["validation_error"] for r in groups[(name,)]]) for name in names]
    figure, axes = plt.subplots(figsize=(8, 0.6 * len(names) + 1.5))
    positions = range(len(names))
    axes.barh(
        positions,
        [m for m, _ in means],
        xerr=[s for _, s in means],
        color="tab:blue",
        alpha=0.7,
        label="this machine (mean ± std over seeds)",
    )
    axes.scatter(
        [PAPER_TREC_VALIDATION_ERROR.get(name, float("nan")) for name in names],
        positions,
        color="black",
        marker="D",
        zorder=3,
        label="paper",
    )
    if linear:
        axes.axvline(
            mean_std([r["validation_error"] for r in linear])[0],
            color="tab:red",
            linestyle="--",
            label="TF-IDF + logistic regression",
        )
    axes.set_yticks(list(positions), [LADDER_ROWS[name][0] for name in names])
    axes.invert_yaxis()
    axes.set_xlabel("TREC-6 validation error (%)")
    axes.legend(loc="lower right")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def sizes_of(results: list[dict]) -> list[str]:
    """The label counts the runs used, smallest first, 'all' last."""
    counts = {r["labels"] for r in results}
    return sorted(counts - {"all"}, key=int) + (["all"] if "all" in counts else [])


def plot_lowshot(groups: dict, linear: dict, tasks: list[str], sizes: list[str], path: Path) -> None:
    """Like the paper's Figure 3: error against the number of labelled examples (log scale), one line per method."""
    plt = pyplot()
    figure, all_axes = plt.subplots(1, len(tasks), figsize=(5.5 * len(tasks), 4), squeeze=False)
    for axes, task in zip(all_axes[0], tasks):
        for method, label in LOWSHOT_METHODS.items():
            points = []
            for size in sizes:
                runs = groups.get((task, method, size), [])
                if runs:
                    mean, std = mean_std([r["test_error"] for r in runs])
                    points.append((runs[0]["train_documents"], mean, std))
            if not points:
                continue
            xs, ys, stds = zip(*sorted(points))
            axes.plot(xs, ys, marker="o", label=label)
            axes.fill_between(xs, [y - s for y, s in zip(ys, stds)], [y + s for y, s in zip(ys, stds)], alpha=0.2)
        points = [
            (runs[0]["train_documents"], mean_std([r["test_error"] for r in runs])[0])
            for size in sizes
            if (runs := linear.get((task, size)))
        ]
        if points:
            xs, ys = zip(*sorted(points))
            axes.plot(xs, ys, color="black", linestyle="--", marker="s", label="TF-IDF + logistic regression")
        axes.set_xscale("log")
        axes.xaxis.set_minor_formatter(plt.NullFormatter())  # major ticks only: the sizes span 100 to 5,000
        axes.set_xlabel("labelled training examples")
        axes.set_ylabel("test error (%)")
        axes.set_title(task)
        axes.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


# ---- Command line --------------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("experiment", choices=["ladder", "lowshot", "fwdbwd", "baseline", "report"])
    parser.add_argument("--out", default="outputs/claims", help="Where models and data slices go (not committed).")
    parser.add_argument(
        "--results",
        default=str(ROOT / "benchmarks" / "claims_results"),
        help="Where each run's JSON record goes (committed: the report is made from them).",
    )
    parser.add_argument(
        "--lm",
        default=DEFAULT_LM,
        help="The pretrained forward LM every transfer row starts from; 'auto': the one the main job takes, the "
        "newest in $HF_ULMFIT_MODELS or the models/ folder beside the data folder (../shared/models).",
    )
    parser.add_argument("--backward-lm", help="fwdbwd: the backward LM (`hf-ulmfit pretrain ... --backwards true`).")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument(
        "--rows", nargs="+", choices=list(LADDER_ROWS), default=list(LADDER_ROWS), help="ladder: the rows to run."
    )
    parser.add_argument("--tasks", nargs="+", choices=["trec", "imdb"], default=["trec", "imdb"])
    parser.add_argument("--sizes", nargs="+", default=LOWSHOT_SIZES, help="lowshot: labelled examples ('all': TREC).")
    parser.add_argument(
        "--methods",
        nargs="+",
        choices=[*LOWSHOT_METHODS, *FROM_SCRATCH_VARIANTS],
        default=list(LOWSHOT_METHODS),
        help="lowshot: the methods to run; the from-scratch variants (one setting changed) need --recipe defaults.",
    )
    parser.add_argument(
        "--recipe",
        choices=list(LOWSHOT_EXPERIMENT),
        default="paper",
        help="lowshot: 'paper' pins the ladder rows' recipes (the paper's classifier; the recorded from-scratch "
        "recipe); 'defaults' trains with train-classifier's own defaults, recorded as lowshot-defaults.",
    )
    parser.add_argument("--imdb-test-size", type=int, default=1000, help="IMDb: a fixed stratified test subset.")
    parser.add_argument("--imdb-validation-size", type=int, default=500, help="IMDb: validation reviews kept.")
    parser.add_argument(
        "--imdb-lm-texts",
        type=int,
        default=1000,
        help="IMDb semi-supervised LM: reviews drawn from train + the 50k unlabelled (0: all 75k); "
        "finetune-lm's 2 default epochs over them are the LM's budget.",
    )
    parser.add_argument(
        "--fwdbwd-imdb-labels",
        type=int,
        default=100,
        help="fwdbwd: IMDb labelled examples (the forward run is the low-shot semi-supervised one of this size).",
    )
    parser.add_argument(
        "--task-vocab-size",
        type=int,
        default=None,
        help="Unigram vocabulary trained on the task for the rows without Wikipedia (default: the "
        "pretrained LM's; a small task caps it at what its text holds).",
    )
    parser.add_argument(
        "--task-lm-epochs",
        type=float,
        default=10,
        help="no-pretraining: epochs of the LM trained on the task's text alone.",
    )
    parser.add_argument("--task-lm-learning-rate", type=float, default=1e-2)
    parser.add_argument("--data-dir", default=None, help="Folder of the named datasets ($HF_ULMFIT_DATA).")
    parser.add_argument("--quick", action="store_true", help="Tiny slices, a few steps per stage: a smoke test.")
    parser.add_argument("--markdown", default=str(ROOT / "benchmarks" / "CLAIMS.md"), help="report: where to write.")
    parser.add_argument("--plots", default=str(ROOT / "benchmarks" / "plots"), help="report: folder of the PNGs.")
    parser.add_argument(
        "--discussion",
        default=str(ROOT / "benchmarks" / "claims_discussion.md"),
        help="report: the hand-written reading of the results (where they disagree with the paper, and why), "
        "appended to the tables.",
    )
    args = parser.parse_args(argv)
    args.max_test = {"imdb": args.imdb_test_size}
    args.max_validation = {"imdb": args.imdb_validation_size}
    if args.recipe != "defaults" and set(args.methods) & set(FROM_SCRATCH_VARIANTS):
        parser.error("the from-scratch variants are variants of train-classifier's defaults: add --recipe defaults")
    bad = [size for size in args.sizes if size != "all" and not size.isdigit()]
    if bad:
        parser.error(f"--sizes takes counts or 'all', got {bad}")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.experiment == "report":
        report(args)
        return
    if args.lm == "auto":
        from hf_ulmfit.recipes.quickstart import find_pretrained_lm

        args.lm = find_pretrained_lm(args.data_dir) or "../shared/models (no forward LM found)"
    # Every experiment but the linear baseline needs it (from-scratch models take its sizes).
    if args.experiment != "baseline" and not Path(args.lm).is_dir():
        raise SystemExit(f"--lm {args.lm}: no such folder (the pretrained LM, see ../shared/models/README.md)")
    getattr(Experiments(args), args.experiment)()


if __name__ == "__main__":
    sys.exit(main())
