"""Embedding throughput and memory (issue 19): training pairs/s and peak RSS of bundled minilm-l6 at batch 32
and at batch 128 (GradCache: 32 texts encoded at a time), then `/v1/embeddings` against
`SentenceTransformer.encode` called in a loop, one text at a time, single stream and with 8 clients.

Each training case runs in a fresh process (its VmHWM is that run's alone). Serving: the server runs in its own
process and the SentenceTransformer loop in this one, on the same exported model, with the same torch thread
count (`--threads`, default all cores: what each uses when left alone), in interleaved rounds. Peak RSS does
not depend on other load; the speeds do (the report records the load).
Run: .venv/bin/python bench/embedding_throughput.py [--texts 200] [--rounds 3] [--threads N]
  → bench/results/embedding_throughput.md
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
RESULTS = Path(__file__).parent / "results" / "embedding_throughput.md"
TRAIN_ONE = """
import json, sys
from tunesmith.config import ProjectConfig
from tunesmith.quickstart.embedding import faq_pairs
from tunesmith.train.run import run_training
batch, run_dir = int(sys.argv[1]), sys.argv[2]
pairs = [{"query": p["query"], "positive": p["positive"]} for p in faq_pairs()]
config = ProjectConfig.model_validate({
    "objective": {"task": "embedding"}, "model": {"name": "minilm-l6", "max_length": 64},
    "method": {"name": "full"}, "embedding": {"cache_batch_size": 32},
    "training": {"epochs": 1, "batch_size": batch, "learning_rate": 2e-5, "eval_every": 100000,
                 "num_threads": 1, "seed": 0}})
run_training(config, pairs, [], run_dir)
info = json.load(open(f"{run_dir}/run.json"))
print(json.dumps({"pairs": len(pairs), "seconds": info["seconds"], "peak_rss": info["peak_rss"],
                  "steps": info["steps"]}))
"""


def train_case(batch: int, run_dir: Path) -> dict:
    done = subprocess.run([sys.executable, "-c", TRAIN_ONE, str(batch), str(run_dir)], capture_output=True,
                          text=True, check=False)
    if done.returncode:
        raise SystemExit(done.stderr[-3000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def _serve(run_dir: str, port: int, ready, threads: int) -> None:
    from tunesmith.config.serve import ServeConfig
    from tunesmith.serve import build_server
    from tunesmith.serve.runner import run

    server = build_server([run_dir], settings=ServeConfig(port=port, threads=threads))
    ready.set()
    run(server.app, "127.0.0.1", port, log_level="warning")


def start_server(run_dir: Path, threads: int) -> tuple[str, object]:
    import httpx

    from tunesmith.serve import free_port

    port = free_port()
    context = multiprocessing.get_context("spawn")
    ready = context.Event()
    process = context.Process(target=_serve, args=(str(run_dir), port, ready, threads), daemon=True)
    process.start()
    ready.wait(300)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 300
    while time.time() < deadline:
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return url, process
        except httpx.HTTPError:
            time.sleep(0.5)
    raise RuntimeError("server did not start")


def served(url: str, model: str, texts: list[str], clients: int) -> tuple[float, float]:
    """(texts per second, client CPU ms per request) with `clients` concurrent clients, each sending one text
    per request (what an application sends) and the next when its answer is back. The clients are tasks on one
    event loop, not threads: on 2 cores the clients' own CPU is taken from the server, so they are kept as light
    as an HTTP client gets; their CPU per request is reported."""
    import asyncio

    import httpx

    httpx.post(f"{url}/v1/embeddings", json={"model": model, "input": "warm-up"}, timeout=120)
    pending, errors = list(texts), []

    async def client(http: httpx.AsyncClient) -> None:
        while pending:
            response = await http.post(f"{url}/v1/embeddings", json={"model": model, "input": pending.pop()})
            if response.status_code != 200:
                errors.append(response.status_code)

    async def all_clients() -> None:
        limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
        async with httpx.AsyncClient(timeout=120, limits=limits) as http:
            await asyncio.gather(*(client(http) for _ in range(clients)))

    started, cpu = time.perf_counter(), time.process_time()
    asyncio.run(all_clients())
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    if errors:
        raise RuntimeError(f"{len(errors)} failed requests: {errors[:5]}")
    return len(texts) / seconds, 1000 * cpu / len(texts)


def http_stack() -> str:
    """What uvicorn serves with here: its C parser and loop when installed (the serve extra), else pure Python."""
    import importlib.util

    parser = "httptools" if importlib.util.find_spec("httptools") else "h11"
    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    return f"uvicorn with {parser} and {loop}"


def sentence_transformers_loop(model, texts: list[str]) -> float:
    model.encode("warm-up")
    started = time.perf_counter()
    for text in texts:
        model.encode(text)
    return len(texts) / (time.perf_counter() - started)


def serving_rounds(export: Path, url: str, model: str, texts: list[str], rounds: int) -> list[dict]:
    """Rounds of (SentenceTransformer loop, 1 client, 8 clients), back to back: each ratio is to its own round's
    loop, so drift in the machine's speed between rounds does not enter a ratio."""
    from sentence_transformers import SentenceTransformer

    reference = SentenceTransformer(str(export), device="cpu")
    out = []
    for index in range(rounds):
        row = {"round": index + 1, "baseline": sentence_transformers_loop(reference, texts)}
        for clients in (1, 8):
            row[clients], row[f"cpu{clients}"] = served(url, model, texts, clients)
        out.append(row)
        print(json.dumps(row), flush=True)
    return out


def serving_report(rounds: list[dict], texts: int, threads: int) -> list[str]:
    """The medians over rounds (speeds, and each round's ratios to its own loop), then every round."""
    from statistics import median

    def ratio(clients: int) -> float:
        return median(r[clients] / r["baseline"] for r in rounds)

    lines = ["", f"Serving {texts} queries, one text per call, {threads} torch thread(s) on each side, {http_stack()}; "
             "the clients are tasks of one `httpx.AsyncClient` in the bench's process, on the same machine. "
             f"Medians of {len(rounds)} rounds; a ratio is to the same round's loop:", "",
             "| path | texts/s | vs SentenceTransformer loop | target | client CPU ms per request |",
             "|---|---|---|---|---|",
             f"| `SentenceTransformer.encode` in a loop (same exported model) | "
             f"{median(r['baseline'] for r in rounds):.1f} | 1.00× | | |",
             f"| `/v1/embeddings`, 1 client | {median(r[1] for r in rounds):.1f} | {ratio(1):.2f}× | ≥ 1× | "
             f"{median(r['cpu1'] for r in rounds):.1f} |",
             f"| `/v1/embeddings`, 8 clients (batched across clients) | {median(r[8] for r in rounds):.1f} | "
             f"{ratio(8):.2f}× | ≥ 2× | {median(r['cpu8'] for r in rounds):.1f} |", "",
             "| round | loop texts/s | 1 client | 8 clients |", "|---|---|---|---|"]
    lines += [f"| {r['round']} | {r['baseline']:.1f} | {r[1]:.1f} ({r[1] / r['baseline']:.2f}×) | {r[8]:.1f} "
              f"({r[8] / r['baseline']:.2f}×) |" for r in rounds]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=200, help="texts sent per serving measurement")
    parser.add_argument("--rounds", type=int, default=3, help="serving rounds (loop, 1 client, 8 clients each)")
    parser.add_argument("--threads", type=int, default=os.cpu_count(),
                        help="torch threads of the SentenceTransformer loop and of the server (default: all cores, "
                        "what each uses when left alone)")
    args = parser.parse_args(argv)
    from tunesmith.embeddings.export import write_sentence_transformers
    from tunesmith.embeddings.load import encoder_for_run
    from tunesmith.quickstart.embedding import faq_pairs
    from tunesmith.train import load_run

    load_before, started = os.getloadavg(), time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    texts = [p["query"] for p in faq_pairs()][: args.texts]
    lines = ["# Embedding throughput and memory", "",
             f"Measured {started}, bundled `minilm-l6`, full fine-tuning on the embedding quickstart's 390 FAQ "
             "pairs (multiple-negatives ranking, max_length 64, 1 epoch, 1 torch thread), each case in a fresh "
             "process.", "", "| batch | texts encoded at once | steps | pairs/s | peak RSS (GB) |",
             "|---|---|---|---|---|"]
    with tempfile.TemporaryDirectory() as folder:
        runs = {}
        for batch in (32, 128):
            runs[batch] = Path(folder) / f"run-{batch}"
            case = train_case(batch, runs[batch])
            lines.append(f"| {batch} | 32{' (GradCache)' if batch > 32 else ''} | {case['steps']} | "
                         f"{case['pairs'] / case['seconds']:.1f} | {case['peak_rss'] / 1e9:.2f} |")
            print(lines[-1], flush=True)
        export = write_sentence_transformers(encoder_for_run(load_run(runs[32])), Path(folder) / "st")
        import torch

        torch.set_num_threads(args.threads)
        url, process = start_server(runs[32], args.threads)
        try:
            rounds = serving_rounds(export, url, runs[32].name, texts, args.rounds)
        finally:
            process.terminate()
            process.join(30)
    lines += serving_report(rounds, len(texts), args.threads)
    lines += ["", f"Load average (1, 5, 15 min) before: {' '.join(f'{x:.1f}' for x in load_before)}, after: "
              f"{' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} logical CPUs."]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(RESULTS.read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
