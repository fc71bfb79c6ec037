"""Embedding losses as pure functions of embeddings, and GradCache for in-batch negatives beyond memory.

Each loss returns a *sum* over the batch's queries (pairs), like every loss in tunesmith: the loop divides
by the step-wide count, so accumulation and several processes give the mean. Divided by the batch size
each equals its sentence-transformers counterpart on the same embeddings (tests/embeddings/test_losses.py):
`ranking_loss_sum` ≡ MultipleNegativesRankingLoss, `cosent_loss_sum` ≡ CoSENTLoss, `cosine_loss_sum` ≡
CosineSimilarityLoss, `matryoshka` ≡ MatryoshkaLoss; `cached_embeddings` ≡ CachedMultipleNegativesRankingLoss.

GradCache (Gao et al. 2021): embed the whole batch in chunks without a graph, compute the loss on those
embeddings as leaves, keep their gradients, then, when the loop calls backward, re-run each chunk with a
graph and push its cached gradient through it. Activation memory is one chunk's, whatever the batch.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence

import torch
import torch.nn.functional as F

Embed = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (input_ids, attention_mask) -> (n, dim)


def cos_sim(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return F.normalize(a, dim=-1) @ F.normalize(b, dim=-1).T


def ranking_loss_sum(queries: torch.Tensor, documents: torch.Tensor, negatives: torch.Tensor | None = None,
                     scale: float = 20.0, excluded: torch.Tensor | None = None) -> torch.Tensor:
    """Multiple-negatives ranking (InfoNCE): query i should score its document i above every other document
    in the batch and every negative; summed cross-entropy over queries. `excluded` (bool, queries ×
    candidates) leaves out candidates that are not negatives, e.g. another row's copy of query i's document
    (what sentence-transformers' NoDuplicatesBatchSampler avoids by reordering batches)."""
    candidates = documents if negatives is None or not len(negatives) else torch.cat([documents, negatives])
    scores = cos_sim(queries, candidates).float() * scale
    if excluded is not None:
        scores = scores.masked_fill(excluded, float("-inf"))
    return F.cross_entropy(scores, torch.arange(len(queries), device=scores.device), reduction="sum")


def cosent_loss_sum(first: torch.Tensor, second: torch.Tensor, scores: torch.Tensor,
                    scale: float = 20.0) -> torch.Tensor:
    """CoSENT: log(1 + Σ exp(scale·(cos_kl − cos_ij))) over pairs with score_ij > score_kl. The loss is one
    number for the whole batch; it is returned times the batch size, so the loop's division gives it back."""
    cos = F.cosine_similarity(first, second).float() * scale
    higher = scores.view(-1)[:, None] > scores.view(-1)[None, :]
    differences = (cos[None, :] - cos[:, None])[higher]
    loss = torch.logsumexp(torch.cat([cos.new_zeros(1), differences]), dim=0)
    return loss * len(cos)


def cosine_loss_sum(first: torch.Tensor, second: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
    """Squared error between cosine similarity and the target score, summed."""
    cos = F.cosine_similarity(first, second).float()
    return F.mse_loss(cos, scores.float().view(-1), reduction="sum")


def matryoshka(loss: Callable[[list[torch.Tensor]], torch.Tensor], embeddings: Sequence[torch.Tensor],
               dims: Sequence[int], weights: Sequence[float] | None = None) -> torch.Tensor:
    """Σ_d w_d · loss(embeddings truncated to their first d values): short prefixes become usable alone."""
    if not dims:
        return loss(list(embeddings))
    weights = list(weights) if weights is not None else [1.0] * len(dims)
    return sum(w * loss([e[..., :d] for e in embeddings]) for d, w in zip(dims, weights, strict=True))


class _Rng:
    """The random state before a chunk's first forward, so the re-run draws the same dropout masks."""

    def __init__(self, device: torch.device):
        self.device = device
        self.cpu = torch.get_rng_state()
        self.cuda = torch.cuda.get_rng_state(device) if device.type == "cuda" else None

    @contextlib.contextmanager
    def replay(self) -> Iterator[None]:
        devices = [self.device] if self.cuda is not None else []
        with torch.random.fork_rng(devices=devices, device_type=self.device.type):
            torch.set_rng_state(self.cpu)
            if self.cuda is not None:
                torch.cuda.set_rng_state(self.cuda, self.device)
            yield


def _chunks(ids: torch.Tensor, mask: torch.Tensor, size: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    out = []
    for start in range(0, len(ids), size):
        part_mask = mask[start:start + size]
        width = max(int(part_mask.sum(1).max()), 1)  # right-padded: trim this chunk's own padding
        out.append((ids[start:start + size, :width], part_mask[:, :width]))
    return out


def embed_chunked(embed: Embed, ids: torch.Tensor, mask: torch.Tensor, size: int) -> torch.Tensor:
    """Embeddings of one column, `size` texts at a time (with a graph when grad is enabled)."""
    return torch.cat([embed(i, m) for i, m in _chunks(ids, mask, size)])


def cached_loss(embed: Embed, columns: Sequence[tuple[torch.Tensor, torch.Tensor]], size: int,
                loss: Callable[[list[torch.Tensor]], torch.Tensor]) -> torch.Tensor:
    """`loss` of the columns' embeddings with GradCache: the returned tensor's backward re-runs the encoder
    chunk by chunk with the cached embedding gradients (scaled by whatever the caller multiplies it by)."""
    chunks = [_chunks(ids, mask, size) for ids, mask in columns]
    states: list[list[_Rng]] = []
    reps: list[torch.Tensor] = []
    with torch.no_grad():
        for column in chunks:
            states.append([])
            parts = []
            for ids, mask in column:
                states[-1].append(_Rng(ids.device))
                parts.append(embed(ids, mask))
            reps.append(torch.cat(parts).detach().requires_grad_())
    with torch.enable_grad():
        value = loss(reps)
        value.backward()  # reaches only the detached leaves: fills reps[k].grad
    grads = [r.grad for r in reps]
    result = value.detach().requires_grad_()

    def push(scale: torch.Tensor) -> None:
        for column, column_states, grad in zip(chunks, states, grads, strict=True):
            start = 0
            for (ids, mask), rng in zip(column, column_states, strict=True):
                with rng.replay(), torch.enable_grad():
                    out = embed(ids, mask)
                out.backward(grad[start:start + len(ids)] * scale)
                start += len(ids)

    result.register_hook(push)
    return result
