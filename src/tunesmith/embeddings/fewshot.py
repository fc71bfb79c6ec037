"""Classification with few examples per class, in the style of SetFit (Tunstall et al. 2022): which recipe a
classification project trains with, and the contrastive pairs the `embedding` recipe tunes the encoder on.

Pure functions; the training, the head and loading live in `fewshot_run.py`.
"""

from __future__ import annotations

import random
import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tunesmith.errors import ConfigError
from tunesmith.methods import get_method

RECIPE_KEY = "recipe"  # run.json: "embedding" for a run of this recipe (absent: a plain classification head)


@dataclass(frozen=True)
class RecipeChoice:
    recipe: str  # "head" (a classification layer, fine-tuned end to end) or "embedding" (SetFit-style)
    reason: str  # one sentence: why, in the user's terms


def model_kind(name: str) -> str:
    """"encoder", "causal-lm" or "unknown", without loading or converting anything."""
    from tunesmith.models.catalog import catalog_entry, kind_of_folder

    entry = catalog_entry(name)
    if entry is not None:
        return entry.kind
    path = Path(name).expanduser()
    return kind_of_folder(path) if (path / "config.json").exists() else "unknown"


def choose_recipe(config, records: Sequence[dict]) -> RecipeChoice:
    """The recipe `config` (a ProjectConfig) trains `records` (the train split) with, and why."""
    settings = config.few_shot
    counts = Counter(str(r.get("label")) for r in records)
    typical = statistics.median(counts.values()) if counts else 0
    paired = any(r.get("text_pair") for r in records)
    encoder = model_kind(config.model.name) == "encoder"
    method_fits = "embedding" in get_method(config.method.name).tasks
    if settings.recipe == "embedding":
        _require_encoder_recipe("embedding", config, paired, encoder, method_fits)
        return RecipeChoice("embedding", "few_shot.recipe is embedding")
    if settings.recipe == "pooled":
        _require_encoder_recipe("pooled", config, paired, encoder, method_fits)
        return RecipeChoice("pooled", "few_shot.recipe is pooled")
    if settings.recipe == "head":
        return RecipeChoice("head", "few_shot.recipe is head")
    size = f"the median class has {typical:g} training examples"
    if typical >= settings.embedding_below:
        enough = f"{size} (few_shot.embedding_below is {settings.embedding_below}): enough to fine-tune"
        if not paired and method_fits and sentence_encoder(config.model.name):
            return RecipeChoice("pooled", f"{enough} end to end; {config.model.name} is a sentence encoder, so its "
                                          "own pooled embedding under a head fitted on it first (linear probe, "
                                          "then fine-tuning)")
        return RecipeChoice("head", f"{enough} a classification head end to end")
    if paired:
        return RecipeChoice("head", f"{size}, but the records are text pairs, which the embedding recipe does "
                                    "not classify")
    if not encoder:
        return RecipeChoice("head", f"{size}, but {config.model.name} is not an encoder (the embedding recipe "
                                    "tunes an encoder such as minilm-l6)")
    if not method_fits:
        return RecipeChoice("head", f"{size}, but method {config.method.name} does not tune encoders for "
                                    "embeddings (full and lora do)")
    return RecipeChoice("embedding", f"{size}, fewer than few_shot.embedding_below ({settings.embedding_below}): "
                                     "SetFit-style contrastive tuning of the encoder on same/different-label "
                                     "pairs, then a logistic-regression head, learns more from few examples")


def sentence_encoder(name: str) -> bool:
    """Whether the model is a sentence-transformers encoder: its folder declares the pooling it was trained
    with (read from the folder, nothing loaded)."""
    from tunesmith.embeddings.encoder import folder_pooling
    from tunesmith.models.catalog import catalog_entry

    if model_kind(name) != "encoder":
        return False
    entry = catalog_entry(name)
    folder = entry.shipped_path() if entry is not None else Path(name).expanduser()
    return folder is not None and folder_pooling(folder) is not None


def _require_encoder_recipe(recipe: str, config, paired: bool, encoder: bool, method_fits: bool) -> None:
    """The refusals of an explicit few_shot.recipe that classifies an encoder's embedding (embedding, pooled)."""
    if paired:
        raise ConfigError(f"few_shot.recipe is {recipe} but the records are text pairs (text_pair)",
                          "Set few_shot.recipe: head (or auto) for text-pair classification.")
    if not encoder:
        kind = "sentence encoder" if recipe == "pooled" else "encoder"
        raise ConfigError(f"few_shot.recipe is {recipe} but model '{config.model.name}' is not an encoder",
                          f"Set model.name: minilm-l6 (or another {kind}), or few_shot.recipe: head.")
    if not method_fits:
        raise ConfigError(f"few_shot.recipe is {recipe} but method {config.method.name} does not tune encoders "
                          "for embeddings", "Set method.name: full or lora, or few_shot.recipe: head.")


def contrastive_pairs(records: Sequence[dict], per_example: int, seed: int) -> list[dict]:
    """Scored sentence pairs (the embedding task's records, trained with the cosine loss): for each text,
    `per_example // 2` pairs with another text of its label (score 1.0) and as many with a text of a different
    label (score 0.0), drawn with a seeded RNG. A label with one text pairs it with itself; with a single label
    there are no different-label pairs."""
    rng = random.Random(seed)
    by_label: dict[str, list[str]] = {}
    for record in records:
        by_label.setdefault(str(record["label"]), []).append(record["text"])
    labels = list(by_label)
    pairs: list[dict] = []
    for round_ in range(max(per_example // 2, 1)):
        for index, record in enumerate(records):
            text, label = record["text"], str(record["label"])
            same = by_label[label]
            others = [t for t in same if t != text] or same
            pairs.append({"id": f"pair-{round_}-{index}-same", "query": text, "positive": rng.choice(others),
                          "score": 1.0})
            different = [other for other in labels if other != label]
            if different:
                partner = rng.choice(by_label[rng.choice(different)])
                pairs.append({"id": f"pair-{round_}-{index}-diff", "query": text, "positive": partner,
                              "score": 0.0})
    return pairs


def contrastive_config(config):
    """The project config as the embedding task that tunes the encoder (cosine loss on scored pairs; the
    few_shot section's epochs, learning rate and batch size), re-validated like a project file."""
    from tunesmith.config import ProjectConfig

    data = config.model_dump(mode="json")
    data["objective"]["task"] = "embedding"
    data["embedding"]["loss"] = "cosine"
    settings = config.few_shot
    data["training"].update(epochs=settings.epochs, learning_rate=settings.learning_rate,
                            batch_size=settings.batch_size)
    return ProjectConfig.model_validate(data)


def contrastive_workload(config, records: Sequence[dict], lengths: Sequence[int]) -> tuple[object, list[int]]:
    """What the planner should cost for the embedding recipe: its contrastive stage, which runs both texts of
    every pair through the encoder (as a classification pass over 2 × pairs texts, in batches of 2 ×
    few_shot.batch_size, for few_shot.epochs; the logistic head takes seconds). `lengths` are the token
    lengths of `records`, in order; returns the config to plan and the texts' lengths."""
    settings = config.few_shot
    length_of = {record["text"]: n for record, n in zip(records, lengths, strict=True)}
    pairs = contrastive_pairs(records, settings.pairs_per_example, config.training.seed)
    texts = [length_of[pair[key]] for pair in pairs for key in ("query", "positive")]
    training = config.training.model_copy(update={"epochs": settings.epochs, "batch_size": 2 * settings.batch_size})
    return config.model_copy(update={"training": training}), texts
