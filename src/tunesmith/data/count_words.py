"""Each count of the data pipeline in plain words: the one table the data report (HTML) and the
`data prepare` summary quote, so a number like "near_duplicates 28 / dropped 27" never stands alone."""

from __future__ import annotations

MEANINGS = {
    "read": "rows read from your source files",
    "rejected": "rows that could not be used (wrong format or missing fields); each is listed under "
                "'Rejected rows' with its file and line",
    "html_stripped": "records whose HTML tags were removed (data.strip_html)",
    "normalized": "records whose text was repaired (broken characters, odd spacing: data.normalize_unicode)",
    "pii_masked": "records in which emails, phone or card numbers were masked (data.mask_pii)",
    "exact_duplicates": "records identical to an earlier record after cleaning",
    "dropped_exact_duplicates": "identical copies removed, so the model does not learn one example twice "
                                "(data.exact_duplicates)",
    "near_duplicates": "records almost identical to another one (a few words differ)",
    "dropped_near_duplicates": "near-copies removed, keeping one record of each group; samples under "
                               "'Samples of dropped records' (data.near_duplicates)",
    "conflicting_duplicates": "records with the same question but a different answer or label: the model "
                              "cannot learn both",
    "dropped_conflicts": "conflicting records removed (data.conflicts: drop)",
    "overlong": "records longer than model.max_length tokens (cut or dropped: data.overlong)",
    "too_short": "records shorter than data.min_tokens tokens",
    "dropped_by_length": "records removed for their length (too long with data.overlong: drop, or too short)",
    "dropped_leaks": "training records removed because they copy a validation or test record (they would "
                     "inflate the scores)",
    "weight_repeats": "extra copies added by source weights above 1",
    "weight_skipped": "records skipped by source weights below 1",
    "augmented": "extra training records made by data augmentation",
    "small_classes": "classes with fewer training examples than data.min_class_examples",
    "train": "records the model learns from",
    "validation": "records checked during training to pick the best checkpoint",
    "test": "records kept aside to measure the final model",
}


def explain(key: str) -> str:
    return MEANINGS.get(key, key.replace("_", " "))
