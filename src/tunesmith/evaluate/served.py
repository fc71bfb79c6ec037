"""Score a deployed model through its real interface, against the training-time model (`tunesmith eval --via URL`).

The deployed model is asked the held-out questions the way a client asks: `POST /v1/chat/completions` with the
conversation minus the contract's system prompt (a client does not know it; the deployment must add it) and no
sampling settings (the deployment's defaults must be the contract's). The training-time model answers the same
items as evaluation asks it. A drop of the primary metric beyond `evaluation.served_gap` fails the check, with
the first item where the two answered differently.
"""

from __future__ import annotations

import json
import math
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from tunesmith.errors import TunesmithError
from tunesmith.evaluate.contenders import ChatContender, Messages


def api_base(url: str) -> str:
    """The API root of a server URL: `http://host:8000`, `.../v1` and `.../v1/` all mean `http://host:8000/v1`."""
    base = url.rstrip("/")
    return base if base.endswith("/v1") else base + "/v1"


def ask_chat(base: str, model: str, messages: Messages, api_key: str | None = None, timeout: float = 300.0) -> str:
    """One chat completion, as a plain client sends it (model and messages only): the answer's text."""
    headers = {"Content-Type": "application/json"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    body = json.dumps({"model": model, "messages": messages}).encode()
    request = urllib.request.Request(f"{base}/chat/completions", data=body, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            reply = json.loads(response.read())
    except urllib.error.HTTPError as err:
        detail = err.read().decode(errors="replace")[:300]
        raise TunesmithError(f"{base} answered {err.code}: {detail}",
                             "Check the URL, the model id (--model) and the API key (TUNESMITH_API_KEYS).") from None
    except (urllib.error.URLError, OSError) as err:
        raise TunesmithError(f"cannot reach {base}: {err}", "Is the server running (`tunesmith serve`)?") from None
    return (reply["choices"][0]["message"].get("content") or "").strip()


def served_contender(name: str, url: str, model: str, contract, api_key: str | None = None,
                     workers: int = 8) -> ChatContender:
    """A contender answering through the HTTP API (several requests at once, so the server can batch them)."""
    base = api_base(url)

    def answer(conversations: list[Messages], tools=None) -> list[str]:
        if tools is not None and any(tools):
            raise TunesmithError("--via does not send tools yet", "Evaluate tool-use runs without --via.")
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            return list(pool.map(lambda c: ask_chat(base, model, c, api_key), conversations))

    return ChatContender(name, answer, kind="baseline", prompt=lambda item: contract.client_messages(item.prompt))


@dataclass
class ServedCheck:
    metric: str
    trained: float
    served: float
    gate: float
    first_divergence: dict | None

    @property
    def gap(self) -> float:
        """How much worse the deployment scores (negative: better)."""
        from tunesmith.evaluate.summary import LOWER_IS_BETTER

        return (self.served - self.trained) if self.metric in LOWER_IS_BETTER else (self.trained - self.served)

    @property
    def passed(self) -> bool:
        return not math.isnan(self.served) and self.gap <= self.gate + 1e-12

    def line(self) -> str:
        head = (f"{self.metric}: {self.served:.3f} through the deployment vs {self.trained:.3f} for the "
                f"training-time model (a gap of {self.gap:+.3f}; the gate is {self.gate:.3f})")
        if self.passed:
            return f"Served model passed: {head}."
        where = self.first_divergence
        example = (f"; first divergent example, item {where['item']} {where['question']!r}: the trained model "
                   f"answered {where['trained']!r}, the deployment {where['served']!r}") if where else ""
        return f"Served model FAILED: {head}{example}."


def first_divergence(items, trained: list[str], served: list[str]) -> dict | None:
    for index, (item, a, b) in enumerate(zip(items, trained, served, strict=True)):
        if a != b:
            question = next((m["content"] for m in reversed(item.prompt) if m["role"] == "user"), "")
            return {"item": index, "id": item.id, "question": question[:200], "trained": a[:200], "served": b[:200]}
    return None


def compare_served(project, dataset, run_dir: str | Path, url: str, *, model: str | None = None,
                   api_key: str | None = None, out_dir: Path | None = None):
    """(Comparison, ServedCheck): the run's training-time model and the model served at `url` on the held-out
    split; reports go to `<run>/eval/served/` unless `out_dir` is given."""
    from tunesmith.evaluate.compare import _release, held_out_records, summarize
    from tunesmith.evaluate.contenders import model_contender, score_chat, under_contract
    from tunesmith.evaluate.items import chat_items, require_items
    from tunesmith.evaluate.report import write_reports
    from tunesmith.runs import RunFolder
    from tunesmith.train import load_run

    folder = RunFolder(Path(run_dir))
    info = folder.require_finished("evaluate")
    if (info.task or project.config.objective.task) != "chat":
        raise TunesmithError("--via scores chat models through /v1/chat/completions; this run is not one.",
                             "Evaluate classifier runs without --via.")
    settings = project.config.evaluation
    split, records = held_out_records(dataset, settings)
    items = require_items(chat_items(records, settings.max_examples), split)
    contract = folder.inference_contract()
    loaded = load_run(folder)
    trained = score_chat(items, model_contender(folder.run_id, loaded.model, loaded.tokenizer, settings, kind="run",
                                                prompt=under_contract(contract), run_dir=folder.path), settings)
    del loaded
    _release()
    served_name = f"{folder.run_id} via {url}"
    served = score_chat(items, served_contender(served_name, url, model or folder.run_id, contract, api_key,
                                                settings.batch_size), settings)
    comparison = summarize([trained, served], items, "chat", settings, split)
    primary = comparison.primary
    check = ServedCheck(primary, comparison.row(trained.name).metrics[primary].mean,
                        comparison.row(served_name).metrics[primary].mean, settings.served_gap,
                        first_divergence(items, trained.outputs, served.outputs))
    comparison.verdict = check.line()
    write_reports(comparison, out_dir or folder.eval_dir / "served", settings)
    return comparison, check
