"""Where the data comes from and how it is prepared."""

from __future__ import annotations

import codecs
from typing import Literal

from pydantic import Field, field_validator

from tunesmith.config.base import Section

SourceFormat = Literal["auto", "alpaca", "openai", "sharegpt", "prompt_completion", "input_output",
                       "question_answer", "text_label", "text", "openai_dpo", "chosen_rejected", "rated",
                       "query_positive", "sentence_pair_score"]


class SourceConfig(Section):
    path: str = Field(..., description="File or folder, relative to the project folder. A folder reads every "
                      "data file in it (sorted, subfolders too, each with its own line numbers); its .txt/.md "
                      "files are one record each, labelled by their subfolder.")
    format: SourceFormat = Field("auto", description="auto, alpaca, openai, sharegpt, prompt_completion, "
                                 "input_output, question_answer, text_label, text, or preferences: openai_dpo, "
                                 "chosen_rejected (TRL, LLaMA-Factory, Anthropic-HH) or rated (KTO), or for "
                                 "embeddings: "
                                 "query_positive (query, positive[, negative]) or sentence_pair_score "
                                 "(sentence1, sentence2, score).")
    weight: float = Field(1.0, gt=0, description="Mixing ratio relative to other sources: its training records "
                          "are repeated (weight > 1) or subsampled (weight < 1).")
    columns: dict[str, str] = Field(default_factory=dict, description="Rename source columns: {theirs: ours}.")
    split: Literal["auto", "train", "validation", "test"] = Field(
        "auto", description="Pin every record of this source to one split (e.g. your own test file). A pinned "
        "validation or test split is used exactly as given: nothing is moved into it or removed from it, and "
        "records of other sources that duplicate one of its records (exact, same input, near-duplicate or "
        "same group) are dropped, listed in rejects.jsonl.")
    encoding: str = Field("auto", description="Text encoding of the file(s): auto reads UTF-8, or UTF-16/32 "
                          "when the file starts with their byte-order mark; name another one (latin-1, cp1252, "
                          "utf-16-le, ...) for files saved in it. A file in another encoding is refused under "
                          "auto, with the name to put here.")
    allow_outside: bool = Field(False, description="Read a path outside the project folder (e.g. ../shared/x.jsonl "
                                "or a link to one); refused otherwise, so a project never reads files it does "
                                "not contain by accident. Each read names the absolute path.")

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        if value != "auto":
            try:
                codecs.lookup(value)
            except LookupError:
                raise ValueError(f"unknown encoding '{value}': use auto or a Python codec name such as "
                                 "utf-8, latin-1, cp1252 or utf-16") from None
        return value


class AugmentConfig(Section):
    copies: int = Field(0, ge=0, le=20, description="Synthetic variants per training example (0 = off). "
                        "Classification: synonym swap, random deletion and swap. Chat: paraphrased "
                        "questions from the base model when `paraphrase` is on.")
    only_below: int | None = Field(None, ge=1, description="Only augment classes with fewer training "
                                   "examples than this; empty means every class.")
    paraphrase: bool = Field(False, description="Chat: paraphrase user turns with the base model itself.")
    edit_share: float = Field(0.1, gt=0, le=0.5, description="Share of words changed per synthetic example.")


class DataConfig(Section):
    sources: list[SourceConfig] = Field(default_factory=list, description="Input files to combine.")
    # 0.1 and 0.1 make ~81/9/10 train/validation/test: evaluation never scores the split that chose the checkpoint
    validation_share: float = Field(0.1, ge=0, lt=1, description="Share of the unpinned records left after the "
                                    "test split held out for validation (checkpoint choice, early stopping; at "
                                    "least one group when above 0). Ignored when a source is pinned to validation.")
    test_share: float = Field(0.1, ge=0, lt=1, description="Share of the unpinned records held out for the final "
                              "test (stratified by label, whole groups; at least one group when above 0). "
                              "Ignored when a source is pinned to test. 0: no test split, so evaluation falls "
                              "back to validation and says its scores are optimistic.")
    seed: int = Field(42, description="Seed for shuffling and splitting.")
    strict: bool = Field(False, description="Fail, listing every invalid record, instead of skipping them "
                         "(skipped rows go to rejects.jsonl).")
    normalize_unicode: bool = Field(True, description="Fix mojibake and normalize Unicode with ftfy; trim "
                                    "trailing spaces and runs of blank lines.")
    strip_html: bool = Field(True, description="Remove HTML tags and entities from text.")
    mask_pii: bool = Field(False, description="Replace emails, phone numbers and card numbers with "
                           "[EMAIL], [PHONE] and [CARD].")
    spelling_report: bool = Field(False, description="List likely misspellings (needs pyspellchecker).")
    exact_duplicates: Literal["drop", "keep"] = Field("drop", description="Identical records after cleaning.")
    near_duplicates: Literal["drop", "keep", "off"] = Field(
        "drop", description="Records whose MinHash similarity exceeds the threshold: drop all but the first, "
        "or keep them (they still land in one split); off skips near-duplicate search and the leak check "
        "for paraphrases.")
    near_duplicate_threshold: float = Field(0.8, gt=0, lt=1, description="Estimated Jaccard similarity of "
                                            "character 5-grams above which two records are near-duplicates.")
    conflicts: Literal["keep", "drop"] = Field("keep", description="Records with the same input but a different "
                                               "label or answer: keep (and report) or drop all of them.")
    group_field: str = Field("group", description="Records whose meta has the same value for this key "
                             "(e.g. paraphrases of one question) land in the same split.")
    max_record_bytes: int = Field(1_000_000, ge=1024, description="Longest record accepted: bytes of one "
                                  "line (JSON Lines), row (CSV/TSV), file (txt) or array item (JSON). Longer ones "
                                  "are rejected with their file:line without being read into memory.")
    min_tokens: int = Field(0, ge=0, description="Drop records shorter than this many tokens (0 = off).")
    overlong: Literal["truncate", "drop"] = Field(
        "truncate", description="Records longer than model.max_length tokens: truncated in training, or dropped.")
    min_class_examples: int = Field(10, ge=1, description="Warn when a class has fewer training examples.")
    augment: AugmentConfig = Field(default_factory=AugmentConfig)
