"""The `pooled` classification recipe: the sentence encoder's own embedding (its pooling, normalised as it was
trained) under a linear head that is first fitted on the frozen embeddings (linear probing), then trained end
to end with the encoder on the one training loop (LP-FT: Kumar et al. 2022, "Fine-Tuning can Distort
Pretrained Features").

Why: a sentence-transformers encoder such as all-MiniLM-L6 was trained to mean-pool its tokens, while
transformers' sequence classifier reads the [CLS] token through a pooler never trained for this. On CLINC150
(150 intents), a logistic regression on the frozen mean-pooled embeddings scored 95.6 % on test, one on the
[CLS] pooler's output 79 %. And a fitted head spares the epochs a random 150-way head needs before the encoder's
gradients mean anything (bench/results/classification_time_to_accuracy.md).

The run folder is the embedding recipe's (the encoder as the method saves it, `logistic_head.safetensors`
beside it, run.json `recipe: pooled`), so loading, serving and evaluation are that recipe's.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from tunesmith.embeddings.encoder import embed_tokens, resolve_pooling
from tunesmith.embeddings.fewshot_run import EmbeddingClassifier

PROBE_PER_LABEL = 32  # training examples per label the probe is fitted on ...
PROBE_LIMITS = (1024, 4096)  # ... clamped to this many (one no-grad pass: ~260 texts/s for minilm on 2 cores)
# The probe's weight penalties to choose from, by the log-loss on a held-out fifth of the probe's texts (the
# embeddings are unit vectors, so only large weights give confident logits). On CLINC150 (150 intents) 1e-3 left
# the head unsure (train loss ~1.9) and one epoch of fine-tuning reached 93.2 % on test, where 1e-5 started
# from a 94.2 % probe and reached 95.8 % in half an epoch; on 510 drug reviews (3 classes) 1e-5 fitted every
# training text, which left fine-tuning nothing to descend and the range test no rate to read.
PROBE_L2S = (1e-5, 1e-4, 1e-3, 1e-2)
PROBE_HELD_OUT = 0.2
PROBE_BATCH = 64


def pooled_classifier(encoder: torch.nn.Module, config, model_path, labels: Sequence[str]) -> EmbeddingClassifier:
    """`encoder` (the method already applied) under a zero head, to be fitted by `fit_probe`."""
    pooling = resolve_pooling(config.embedding.pooling, model_path)
    width = encoder.config.hidden_size
    return EmbeddingClassifier(encoder, pooling, config.embedding.normalize, torch.zeros(len(labels), width),
                               torch.zeros(len(labels)))


def probe_size(train_examples: int, labels: int) -> int:
    low, high = PROBE_LIMITS
    return min(train_examples, high, max(low, PROBE_PER_LABEL * labels))


def fit_probe(model: EmbeddingClassifier, examples: Sequence, pad_id: int, labels: int, seed: int) -> dict:
    """Fit `model.head` as a multinomial logistic regression on the frozen embeddings of a stratified subset of
    `examples` (encoded classification examples); what it did, for run.json."""
    from tunesmith.train.batching import collate
    from tunesmith.train.subset import stratified_subset

    started = time.perf_counter()
    keep = stratified_subset([ex.labels[0] for ex in examples], probe_size(len(examples), labels), seed)
    chosen = sorted((examples[i] for i in keep), key=len)  # similar lengths together: little padding
    vectors, targets = [], []
    was_training = model.training
    model.eval()
    with torch.inference_mode():
        for start in range(0, len(chosen), PROBE_BATCH):
            part = chosen[start:start + PROBE_BATCH]
            batch = collate(part, pad_id, classification=True)
            vectors.append(embed_tokens(model.encoder, batch["input_ids"], batch["attention_mask"], model.pooling,
                                        model.normalize).float())
            targets += [ex.labels[0] for ex in part]
    model.train(was_training)
    x, y = torch.cat(vectors), torch.tensor(targets)
    l2, held_out = choose_penalty(x, y, labels, seed)
    weight, bias = logistic_regression(x, y, labels, l2)
    with torch.no_grad():
        model.head.weight.copy_(weight)
        model.head.bias.copy_(bias)
    accuracy = float(((x @ weight.T + bias).argmax(1) == y).float().mean())
    return {"kind": "linear_probe", "examples": len(chosen), "l2": l2, "held_out": held_out,
            "train_accuracy": round(accuracy, 4), "seconds": round(time.perf_counter() - started, 2)}


def choose_penalty(x: torch.Tensor, y: torch.Tensor, classes: int, seed: int) -> tuple[float, dict]:
    """The penalty of `PROBE_L2S` whose fit on four fifths of the texts (stratified) gives the lowest log-loss on
    the other fifth, and that fifth's scores for each penalty."""
    from tunesmith.train.subset import stratified_subset

    held = set(stratified_subset(y.tolist(), max(1, round(PROBE_HELD_OUT * len(y))), seed + 1))
    mask = torch.tensor([i in held for i in range(len(y))])
    scores = {}
    for l2 in PROBE_L2S:
        weight, bias = logistic_regression(x[~mask], y[~mask], classes, l2)
        logits = x[mask] @ weight.T + bias
        scores[l2] = {"log_loss": round(float(F.cross_entropy(logits, y[mask])), 4),
                      "accuracy": round(float((logits.argmax(1) == y[mask]).float().mean()), 4)}
    best = min(PROBE_L2S, key=lambda l2: scores[l2]["log_loss"])
    return best, {"texts": int(mask.sum()), "by_l2": {f"{l2:g}": score for l2, score in scores.items()}}


def logistic_regression(x: torch.Tensor, y: torch.Tensor, classes: int, l2: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(weight, bias) minimising mean cross-entropy + l2/2·|weight|² (L-BFGS; convex, so the answer does not
    depend on the start). A class with no example gets a very negative bias."""
    weight = torch.zeros(classes, x.shape[1], requires_grad=True)
    bias = torch.zeros(classes, requires_grad=True)
    optimizer = torch.optim.LBFGS([weight, bias], max_iter=300, line_search_fn="strong_wolfe")

    def objective():
        optimizer.zero_grad()
        loss = F.cross_entropy(x @ weight.T + bias, y) + l2 / 2 * weight.pow(2).sum()
        loss.backward()
        return loss

    with torch.enable_grad():
        optimizer.step(objective)
    seen = torch.bincount(y, minlength=classes) > 0
    return weight.detach(), torch.where(seen, bias.detach(), torch.full_like(bias, -1e4))
