"""The `embedding` classification recipe (SetFit-style) as a run: tune the encoder on contrastive pairs with the
one training loop (the embedding objective's cosine loss), fit a logistic-regression head on its embeddings, and
record the run as a classifier.

The run folder is a classification run like any other (run.json task classification, labels, config.yaml the
project's), plus `recipe: embedding` in run.json and the head's weights in the artifact folder: `load_run` gives
an `EmbeddingClassifier`, whose `model(**tokens).logits` evaluation, `/v1/classifications` and the studio call
as they call a transformers sequence classifier.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from tunesmith.embeddings.encoder import SentenceEncoder, embed_tokens
from tunesmith.embeddings.fewshot import RECIPE_KEY, RecipeChoice, contrastive_config, contrastive_pairs
from tunesmith.train.distributed import World

HEAD_FILE = "logistic_head.safetensors"  # in the run's artifact folder (adapter/ or model/): weight, bias


class EmbeddingClassifier(torch.nn.Module):
    """Pooled (normalized) encoder embedding → linear head; called like a transformers sequence classifier."""

    def __init__(self, encoder: torch.nn.Module, pooling: str, normalize: bool, weight: torch.Tensor,
                 bias: torch.Tensor):
        super().__init__()
        self.encoder, self.pooling, self.normalize = encoder, pooling, normalize
        self.head = torch.nn.Linear(weight.shape[1], weight.shape[0])
        with torch.no_grad():
            self.head.weight.copy_(weight)
            self.head.bias.copy_(bias)
        self.config = encoder.config

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None, **_):
        from transformers.modeling_outputs import SequenceClassifierOutput

        mask = attention_mask if attention_mask is not None else torch.ones_like(input_ids)
        vectors = embed_tokens(self.encoder, input_ids, mask, self.pooling, self.normalize)
        return SequenceClassifierOutput(logits=self.head(vectors.to(self.head.weight.dtype)))

    def save_pretrained(self, folder, **options) -> None:
        """The encoder as it saves itself (a whole model, or a PEFT adapter), the head beside it: the folder that
        `load_embedding_recipe` reads."""
        from safetensors.torch import save_file

        self.encoder.save_pretrained(folder, **options)
        save_file({"weight": self.head.weight.detach().contiguous(), "bias": self.head.bias.detach().contiguous()},
                  str(Path(folder) / HEAD_FILE))


def fit_logistic_head(vectors: np.ndarray, targets: Sequence[str], labels: Sequence[str], seed: int
                      ) -> tuple[torch.Tensor, torch.Tensor]:
    """scikit-learn's LogisticRegression on the embeddings, as (weight, bias) of a linear layer over `labels`
    (softmax of its logits = the regression's probabilities; a label never seen in training gets -inf-like odds)."""
    from sklearn.linear_model import LogisticRegression

    fitted = LogisticRegression(max_iter=2000, random_state=seed).fit(vectors, list(targets))
    classes = [str(c) for c in fitted.classes_]
    coef, intercept = fitted.coef_, fitted.intercept_
    if len(classes) == 2:  # one row: p(second) = sigmoid(w·x + b) = softmax([0, w·x + b])[1]
        coef, intercept = np.vstack([np.zeros_like(coef[0]), coef[0]]), np.array([0.0, intercept[0]])
    weight = np.zeros((len(labels), vectors.shape[1]))
    bias = np.full(len(labels), -1e4)
    for row, label in enumerate(classes):
        weight[labels.index(label)], bias[labels.index(label)] = coef[row], intercept[row]
    return torch.tensor(weight, dtype=torch.float32), torch.tensor(bias, dtype=torch.float32)


def train_embedding_recipe(config, choice: RecipeChoice, train_records: list[dict], validation_records: list[dict],
                           run_dir: Path, resume: bool, dataset_version: str | None, callbacks: Sequence = ()):
    """The whole recipe for `run_training` (train/run.py), which it calls again for the contrastive stage."""
    from tunesmith.progress import console
    from tunesmith.train.run import run_training

    seed = config.training.seed
    console.print(f"classification recipe: embedding ({choice.reason})", soft_wrap=True, markup=False,
                  highlight=False)
    pairs = contrastive_pairs(train_records, config.few_shot.pairs_per_example, seed)
    held = contrastive_pairs(validation_records, 2, seed + 1) if validation_records else []
    result = run_training(contrastive_config(config), pairs, held, run_dir, resume=resume,
                          dataset_version=dataset_version, callbacks=callbacks)
    if result.status != "completed":
        return result
    # Under torchrun / accelerate every process gets here; the main one fits the head and rewrites the run as
    # a classifier (as run_training writes its files), the others wait until it is done.
    world = World.from_env()
    if world.main:
        _fit_head(config, choice, train_records, validation_records, run_dir, pairs, result)
    world.barrier()
    return result


def _fit_head(config, choice: RecipeChoice, train_records: list[dict], validation_records: list[dict],
              run_dir: Path, pairs: list[dict], result) -> None:
    """The logistic head on the tuned encoder's embeddings, and the run folder recorded as a classifier."""
    from safetensors.torch import save_file

    from tunesmith.embeddings.load import load_embedder
    from tunesmith.runs import RUN_FILE
    from tunesmith.train.encode import label_list
    from tunesmith.train.run_folder import read_run, write_card, write_config, write_json

    seed = config.training.seed
    info = read_run(run_dir)
    labels = label_list(train_records)
    encoder = load_embedder(run_dir)
    vectors = encoder.encode([r["text"] for r in train_records])
    weight, bias = fit_logistic_head(vectors, [str(r["label"]) for r in train_records], labels, seed)
    save_file({"weight": weight, "bias": bias}, str(Path(run_dir) / info["artifact"] / HEAD_FILE))
    head = {"kind": "logistic_regression", "train_accuracy": _accuracy(encoder, weight, bias, train_records, labels)}
    if validation_records:
        head["validation_accuracy"] = _accuracy(encoder, weight, bias, validation_records, labels)
        result.metrics["val_accuracy"] = head["validation_accuracy"]
    info.update({"task": "classification", "labels": labels, RECIPE_KEY: "embedding", "recipe_reason": choice.reason,
                 "contrastive_pairs": len(pairs), "head": head, "train_examples": len(train_records),
                 "validation_examples": len(validation_records)})
    write_config(run_dir, config)
    write_json(Path(run_dir) / RUN_FILE, info)
    write_card(run_dir)


def _accuracy(encoder: SentenceEncoder, weight: torch.Tensor, bias: torch.Tensor, records: Sequence[dict],
              labels: list[str]) -> float:
    logits = torch.from_numpy(encoder.encode([r["text"] for r in records])) @ weight.T + bias
    predicted = [labels[i] for i in logits.argmax(dim=1).tolist()]
    return float(np.mean([p == str(r["label"]) for p, r in zip(predicted, records, strict=True)]))


def load_embedding_recipe(folder, info, config, merge: bool = True):
    """A finished embedding-recipe run as `LoadedRun` (task classification) holding an `EmbeddingClassifier`."""
    from safetensors.torch import load_file

    from tunesmith.embeddings.encoder import resolve_pooling
    from tunesmith.methods import get_method
    from tunesmith.train.load import LoadedRun, run_tokenizer
    from tunesmith.train.setup import load_base, quiet_transformers

    inner = contrastive_config(config)
    method = get_method(info.method)
    encoder, _, resolved = load_base(inner, "embedding", None)
    with quiet_transformers():
        encoder = method.load(encoder, folder.path / method.artifact)
    if merge and method.merge is not None:
        encoder = method.merge(encoder)
    head = load_file(str(folder.path / method.artifact / HEAD_FILE))
    model = EmbeddingClassifier(encoder, resolve_pooling(inner.embedding.pooling, resolved.path),
                                inner.embedding.normalize, head["weight"], head["bias"])
    return LoadedRun(model.eval(), run_tokenizer(folder, config), config, "classification", info.labels,
                     folder.path, info)


def plain_head_contenders(config, train_items: Sequence, validation_items: Sequence, labels: list[str], settings):
    """The plain classification head trained on the same split (few_shot.recipe: head, the project's training
    settings) in a temporary folder, as an evaluation baseline beside an embedding-recipe run (generator: the
    folder lives until the contender has been scored)."""
    import tempfile

    from tunesmith.evaluate.classifiers import model_classifier
    from tunesmith.progress import console
    from tunesmith.train import load_run
    from tunesmith.train.run import run_training

    def records(items) -> list[dict]:
        return [{"id": f"item-{i}", "text": item.text, "label": item.label,
                 **({"text_pair": item.text_pair} if item.text_pair else {})} for i, item in enumerate(items)]

    plain = config.model_copy(update={"few_shot": config.few_shot.model_copy(update={"recipe": "head"})})
    console.print("training the plain classification head on the same split, to compare (few_shot.compare_head)",
                  soft_wrap=True, markup=False, highlight=False)
    with tempfile.TemporaryDirectory(prefix="tunesmith-plain-head-") as folder:
        run_dir = Path(folder) / "plain-head"
        run_training(plain, records(train_items), records(validation_items), run_dir)
        loaded = load_run(run_dir)
        yield model_classifier("plain classification head", loaded.model, loaded.tokenizer, labels, settings,
                               kind="baseline")
