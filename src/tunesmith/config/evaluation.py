"""How a model is evaluated on held-out data."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from tunesmith.config.base import Section


class CheckConfig(Section):
    """A custom pass/fail check on every generated answer (regex or keywords)."""

    name: str = Field(..., description="Column name of the check in the report.")
    kind: Literal["regex", "keyword"] = Field("keyword", description="regex: `pattern` must match; "
                                              "keyword: every word in `keywords` must appear.")
    pattern: str | None = Field(None, description="Python regular expression (kind: regex).")
    keywords: list[str] = Field(default_factory=list, description="Words or phrases (kind: keyword).")
    must: Literal["appear", "not_appear"] = Field("appear", description="Pass when it appears, or when "
                                                  "it does not (e.g. forbidden phrases).")
    case_sensitive: bool = Field(False, description="Match case exactly.")

    @model_validator(mode="after")
    def _has_target(self) -> CheckConfig:
        if self.kind == "regex" and not self.pattern:
            raise ValueError(f"check '{self.name}': kind regex needs a `pattern`")
        if self.kind == "keyword" and not self.keywords:
            raise ValueError(f"check '{self.name}': kind keyword needs `keywords`")
        return self


class JudgeConfig(Section):
    """Model-as-judge: a local model grades answers against references. Indicative only."""

    enabled: bool = Field(False, description="Off by default: a small judge is noisy; read it as a hint.")
    model: str | None = Field(None, description="Catalog name or local folder of the judge "
                              "(empty: the project's base model).")
    max_new_tokens: int = Field(4, ge=1, le=64, description="Tokens the judge may use for its verdict.")


class EvaluationConfig(Section):
    split: str = Field("test", description="Held-out split to evaluate on. A dataset without it falls back to "
                       "validation; any split but test leads the output, report and model card with a warning "
                       "that the numbers are optimistic (validation also chose the checkpoint).")
    max_examples: int | None = Field(None, ge=1, description="Evaluate on at most this many examples.")
    max_new_tokens: int = Field(96, ge=1, le=4096, description="Longest generated answer.")
    batch_size: int = Field(8, ge=1, description="Examples per forward pass when scoring: classification, "
                            "reference perplexity, preference log-probs; and concurrent requests of eval --via.")
    generation_rows: int = Field(32, ge=1, description="Answers decoded at once, as the server decodes them: a "
                                 "finished answer makes room for the next prompt. More rows use the CPU better "
                                 "(bench/results/eval_generation.md); each costs its KV cache "
                                 "(SmolLM2-135M: 46 KB per token).")
    few_shot_k: int = Field(3, ge=0, le=16, description="Examples from train in the prompt-engineering baseline.")
    baselines: bool = Field(True, description="Also evaluate the base model zero-shot and few-shot.")
    bootstrap_samples: int = Field(1000, ge=100, description="Resamples for 95% confidence intervals.")
    seed: int = Field(0, description="Seed for bootstrap resampling, permutation tests and few-shot picks.")
    primary_metric: str | None = Field(None, description="Metric the verdict is about; empty: fact_accuracy "
                                       "when records carry facts, else token_f1 (chat) or accuracy "
                                       "(classification).")
    perplexity: bool = Field(True, description="Perplexity of each contender on the reference answers.")
    checks: list[CheckConfig] = Field(default_factory=list, description="Custom regex/keyword checks.")
    calibrate: bool = Field(True, description="Fit a temperature on validation so classifier confidences "
                            "mean what they say.")
    abstain_below: float | None = Field(None, gt=0, lt=1, description="Classifier abstains when its "
                                        "calibrated confidence is below this; empty: never.")
    examples_in_report: int = Field(8, ge=0, le=200, description="Worst / most changed examples shown.")
    judge: JudgeConfig = Field(default_factory=JudgeConfig)
    served_gap: float = Field(0.02, ge=0, le=1, description="`tunesmith eval RUN --via URL`: the largest drop of "
                              "the primary metric (0.02 = 2 points) allowed between the training-time model and "
                              "the deployed one asked through its API; beyond it the check fails.")
