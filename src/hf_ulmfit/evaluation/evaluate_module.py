"""Accuracy and macro-F1 as one `evaluate` module that loads offline:
``evaluate.load(<this file>, config_name="accuracy" | "f1")`` (or `hf_ulmfit.evaluation.load_metric(name)`).
The values come from `hf_ulmfit.evaluation.metrics`, the functions the trainer and `hf-ulmfit evaluate` use."""

import datasets
import evaluate

from hf_ulmfit.evaluation.metrics import METRICS


_DESCRIPTION = (
    "Classification metrics of hf-ulmfit, chosen by config_name: 'accuracy' (the fraction of predictions equal to "
    "their reference) or 'f1' (macro F1: the unweighted mean over the classes seen in references or predictions)."
)
_INPUTS = """
Args:
    predictions (list of int): predicted class ids.
    references (list of int): true class ids.
Returns:
    accuracy or f1 (float): in [0, 1], named after the config.
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _INPUTS)
class UlmfitClassificationMetric(evaluate.Metric):
    def _info(self):
        if self.config_name not in METRICS:
            raise ValueError(f"config_name must be one of {sorted(METRICS)}, got {self.config_name!r}.")
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="",
            inputs_description=_INPUTS,
            features=datasets.Features(
                {"predictions": datasets.Value("int64"), "references": datasets.Value("int64")}
            ),
        )

    def _compute(self, predictions, references):
        return {self.config_name: METRICS[self.config_name](predictions, references)}
