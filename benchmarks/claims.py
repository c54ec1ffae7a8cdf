"""ULMFiT's claims on this hardware (issue 13): the paper's ablation ladder on TREC-6, low-shot curves on TREC-6 and
IMDb, forward + backward ensembles, and the report that turns the runs into benchmarks/CLAIMS.md and two plots.

Every run is a recipe of the library's own stage arguments, run by the stages' Python entry points
(`hf_ulmfit.recipes.<stage>.main`, which apply each stage's defaults exactly as `hf-ulmfit STAGE` does): the script
holds no training loop, only which stage runs with which arguments, and where.

    python -m benchmarks.claims ladder  --seeds 0 1 2          # the 7 rows of the paper's ablations, TREC-6
    python -m benchmarks.claims lowshot --seeds 0 1 2          # 100 ... 3,000 labels (and all of TREC), TREC-6 + IMDb
    python -m benchmarks.claims fwdbwd  --backward-lm PATH     # forward, backward and ensemble accuracy
    python -m benchmarks.claims baseline                       # TF-IDF + logistic regression on every cell's rows
    python -m benchmarks.claims report                         # CLAIMS.md, plots/claims_ladder.png, claims_lowshot.png
    ... --quick                                                 # tiny slices and a few steps: a smoke test

Runs are resumable: each writes one JSON file under ``--out`` (``results/...``) and is skipped when it exists; a
language model or classifier folder holding a finished stage (its ``ulmfit_run.json``) is reused, so the rows that
start from the same fine-tuned LM share it (one per seed).
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

from benchmarks import claims_report
from benchmarks.bench_utils import ROOT, machine_facts
from benchmarks.claims_definitions import (
    FULL_LM_FINETUNING,
    IMDB_CLASSIFIER,
    LADDER_ROWS,
    LINEAR_BASELINE,
    LOWSHOT_EXPERIMENT,
    LOWSHOT_METHODS,
    LOWSHOT_SIZES,
    METHOD_VARIANTS,
    QUICK_SETTINGS,
    QUICK_TEST_ROWS,
    variant_settings,
)


DEFAULT_LM = "auto"  # the main job's choice: the newest forward LM in ../shared/models (quickstart.find_pretrained_lm)
RUN_RECORD_FILE = "ulmfit_run.json"  # what a finished stage leaves in its folder (recipes/outputs.py)
SECONDS_FILE = "claims_seconds.json"  # the wall time of the stage that made a folder, written by this script


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
            # No checkpoints unless the recipe needs them (each run is minutes; an interrupted one starts again), a
            # fresh folder every time.
            arguments = {
                "save_strategy": "no",
                **recipe,
                "output_dir": str(folder),
                "overwrite_output_dir": True,
                "disable_tqdm": True,
                **self.settings,
            }
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
        self,
        kind: str,
        task: str,
        seed: int,
        dataset: str | None = None,
        base: str | None = None,
        changes: dict | None = None,
    ) -> tuple[str, float]:
        """The folder of the LM `kind` (see LADDER_ROWS) for `task` and `seed`, trained if not there yet, and the
        seconds it took. `dataset` is the LM's text (default: the task's train split), `base` the pretrained LM,
        `changes` finetune-lm arguments over the kind's (a variant's; the folder is named after them)."""
        base = base or self.args.lm
        if kind == "pretrained":
            return base, 0.0
        dataset = dataset or task
        direction = "bwd" if self.lm_config(base).get("backwards") else "fwd"
        changed = "".join(f"-{name}-{value}" for name, value in sorted((changes or {}).items()))
        folder = self.out / "lm" / f"{kind}-{direction}{changed}" / self.text_name(dataset) / f"seed{seed}"
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
        recipe.update(changes or {})
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

    def semi_supervised_text(self, task: str, seed: int, count: int | None = None) -> str:
        """The semi-supervised LM's text: TREC's train split as the named dataset (finetune-lm's own default, the
        ladder's fine-tuned LM); for IMDb, `count` (default --imdb-lm-texts) reviews drawn with `seed` from train and
        the 50k unlabelled ones (all 75k with 0), written as a folder, with 500 of the validation reviews to evaluate
        on."""
        if task == "trec":
            return "trec"
        count = self.args.imdb_lm_texts if count is None else count
        folder = self.out / "data" / "lm-text" / f"{task}-{count or 'all'}" / f"seed{seed}"
        count = count if not self.quick else QUICK_SETTINGS["max_train_samples"]  # --quick: a slice of them
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
        # A variant may change the classifier or the semi-supervised LM (how many reviews it reads, finetune-lm's
        # arguments).
        variant, (method, changes, lm_changes) = method, variant_settings(method)
        lm_texts = lm_changes.pop("texts", None)
        if method == "from-scratch":
            lm, lm_seconds = None, 0.0
        elif method == "supervised":
            lm, lm_seconds = self.language_model("finetuned", task, seed, dataset=data, base=base)
        elif method == "semi-supervised":
            # TREC: the ladder's LM of this seed. IMDb: one LM for every seed (its text, the unlabelled reviews,
            # does not depend on the labels a seed draws), because an IMDb LM costs what all its classifiers do.
            lm_seed = seed if task == "trec" else 0
            text = self.semi_supervised_text(task, lm_seed, lm_texts)
            lm, lm_seconds = self.language_model(
                "finetuned", task, lm_seed, dataset=text, base=base, changes=lm_changes
            )
            lm_seconds = lm_seconds if lm_seed == seed else 0.0  # counted once, in the run that trained it
        else:
            raise ValueError(f"unknown low-shot method {method!r}")
        if defaults:  # nothing pinned: the CLI's defaults, IMDb's too (batch 64, evaluation every epoch)
            folder = (
                self.out / "classifiers" / LOWSHOT_EXPERIMENT["defaults"] / task / variant / f"n{size}" / f"seed{seed}"
            )
            classifier, seconds = self.stage(
                "train_classifier", folder, self.classifier_arguments(data, seed, lm, changes)
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


BASELINE_C = (1.0, 10.0, 100.0)  # inverse regularisation strengths tried; the best validation accuracy wins


def fit_linear_baseline(train, validation):
    """The linear baseline (scikit-learn, the `benchmark` extra): sublinear TF-IDF of word 1-2-grams and of
    character 2-5-grams (within word boundaries), fitted on the training texts, then logistic regression for each C
    of BASELINE_C. Returns the pipeline of the C with the best validation accuracy (the smallest on a tie), that C,
    each C's validation accuracy and the number of features."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score
    from sklearn.pipeline import make_pipeline, make_union

    features = make_union(
        TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True),
        TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True),
    )
    x_train = features.fit_transform(train["text"])
    x_validation = features.transform(validation["text"])
    fitted = {C: LogisticRegression(C=C, max_iter=2000).fit(x_train, train["label"]) for C in BASELINE_C}
    validation_accuracy = {
        C: accuracy_score(validation["label"], model.predict(x_validation)) for C, model in fitted.items()
    }
    best = max(BASELINE_C, key=lambda C: (validation_accuracy[C], -C))
    pipeline = make_pipeline(features, fitted[best])
    return pipeline, best, validation_accuracy, x_train.shape[1]


def linear_baseline(train, validation, test) -> dict:
    """fit_linear_baseline's model, scored on test."""
    from sklearn.metrics import accuracy_score, f1_score

    pipeline, best, validation_accuracy, features = fit_linear_baseline(train, validation)
    predictions = pipeline.predict(test["text"])
    return {
        "C": best,
        "validation_accuracy_per_C": {str(C): accuracy for C, accuracy in validation_accuracy.items()},
        "validation_accuracy": validation_accuracy[best],
        "test_accuracy": accuracy_score(test["label"], predictions),
        "test_f1": f1_score(test["label"], predictions, average="macro"),
        "features": features,
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
        choices=[*LOWSHOT_METHODS, *METHOD_VARIANTS],
        default=list(LOWSHOT_METHODS),
        help="lowshot: the methods to run; their variants (one setting changed: METHOD_VARIANTS) need --recipe "
        "defaults.",
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
    if args.recipe != "defaults" and set(args.methods) & set(METHOD_VARIANTS):
        parser.error("the method variants change train-classifier's defaults: add --recipe defaults")
    reading_more = [name for name in args.methods if "texts" in variant_settings(name)[2]]
    if reading_more and "trec" in args.tasks:
        parser.error(f"{reading_more} change how many IMDb reviews the LM reads; TREC-6's LM reads its train split")
    bad = [size for size in args.sizes if size != "all" and not size.isdigit()]
    if bad:
        parser.error(f"--sizes takes counts or 'all', got {bad}")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.experiment == "report":
        claims_report.report(args)
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
