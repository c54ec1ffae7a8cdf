"""Macro-averaged F1 as an `evaluate` metric that loads offline: ``evaluate.load(<this folder>)``."""

import datasets
import evaluate

from hf_ulmfit.evaluation.classification_report import macro_f1

_DESCRIPTION = "Macro F1: the unweighted mean over classes of the harmonic mean of precision and recall."
_INPUTS = """
Args:
    predictions (list of int): predicted class ids.
    references (list of int): true class ids.
Returns:
    f1 (float): in [0, 1], averaged over the classes seen in references or predictions.
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _INPUTS)
class F1(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="",
            inputs_description=_INPUTS,
            features=datasets.Features({"predictions": datasets.Value("int64"), "references": datasets.Value("int64")}),
        )

    def _compute(self, predictions, references):
        return {"f1": macro_f1(predictions, references)}
