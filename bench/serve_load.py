"""Benchmark: the OpenAI-compatible server under concurrent load vs a sequential `generate` loop.

Run: .venv/bin/python bench/serve_load.py [--model smollm2-135m-instruct] [--max-tokens 64]
Writes bench/results/serve_load.md. In one run, back to back (throughput drifts on a shared machine):
  1. sequential baseline: plain transformers `model.generate`, one prompt at a time, greedy;
  2. the server (separate process, loopback) with 8 and then 32 concurrent clients, each sending requests
     until the run's request budget or time limit is used up (both bounded);
  3. with llama-cpp-python installed: single-stream decode through the server's llama.cpp backend vs
     llama-cpp-python called directly on the same GGUF.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

QUESTIONS = [
    "My parcel has not arrived yet. What can I do?", "How do I reset my password?",
    "Can I change the delivery address after ordering?", "What is your refund policy?",
    "The app crashes when I open settings. Any idea?", "How long does shipping to Canada take?",
    "I was charged twice for one order.", "Do you offer student discounts?",
    "How can I cancel my subscription?", "Write a short apology for a late delivery.",
    "Explain two-factor authentication in one paragraph.", "What payment methods do you accept?",
    "My coupon code is not working.", "How do I update my billing details?",
    "Can I return an item bought on sale?", "Summarise the benefits of a premium plan.",
]


def _serve(source: str, backend: str, port: int, max_batch: int, threads: int, ready,
           kernel: str | None = None) -> None:
    from tunesmith.config.serve import ServeConfig
    from tunesmith.serve import create_app, run

    config = ServeConfig(port=port, max_batch_size=max_batch, max_queue=256, backend=backend,
                         max_tokens_limit=4096, threads=threads, **({"linear_kernel": kernel} if kernel else {}))
    if backend == "llamacpp":
        from tunesmith.serve.llamacpp import create_llamacpp_app

        app = create_llamacpp_app([source], config)
    else:
        app = create_app([source], config)
    ready.set()
    run(app, "127.0.0.1", port, log_level="warning")


class Server:
    """The server in its own process, so load-generating client threads do not share its GIL."""

    def __init__(self, source: str, backend: str = "torch", max_batch: int = 8, threads: int = 1,
                 kernel: str | None = None):
        from tunesmith.serve import free_port

        self.port = free_port()
        context = multiprocessing.get_context("spawn")
        ready = context.Event()
        self.process = context.Process(target=_serve, daemon=True,
                                       args=(source, backend, self.port, max_batch, threads, ready, kernel))
        self.process.start()
        ready.wait(300)
        self.url = f"http://127.0.0.1:{self.port}"
        import httpx

        deadline = time.time() + 300
        while time.time() < deadline:
            try:
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.5)
        raise RuntimeError("server did not start")

    def stop(self) -> None:
        self.process.terminate()
        self.process.join(30)


def sequential_generate(model_dir: str, prompts: list[str], max_tokens: int) -> dict:
    import torch

    from tunesmith.inference import render_prompt
    from tunesmith.models.loading import load_causal_lm, load_tokenizer

    model, tokenizer = load_causal_lm(model_dir).eval(), load_tokenizer(model_dir)
    with torch.inference_mode():  # warm-up, not timed (the server gets one too)
        model.generate(**tokenizer("Hello", return_tensors="pt"), max_new_tokens=4, do_sample=False)
    tokens, latencies = 0, []
    started = time.perf_counter()
    for question in prompts:
        text = render_prompt(tokenizer, [{"role": "user", "content": question}])
        enc = tokenizer(text, return_tensors="pt", add_special_tokens=False)
        t0 = time.perf_counter()
        with torch.inference_mode():
            out = model.generate(**enc, max_new_tokens=max_tokens, do_sample=False,
                                 pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id)
        latencies.append(time.perf_counter() - t0)
        tokens += out.shape[1] - enc["input_ids"].shape[1]
    elapsed = time.perf_counter() - started
    return {"requests": len(prompts), "seconds": elapsed, "tokens": tokens, "latencies": latencies, "errors": {}}


def load(url: str, model: str, clients: int, budget: int, max_tokens: int, time_limit: float) -> dict:
    """`clients` threads send chat requests until `budget` requests are done or `time_limit` passes."""
    import httpx

    httpx.post(f"{url}/v1/chat/completions", timeout=600, json={  # warm-up, not timed
        "model": model, "max_tokens": 4, "messages": [{"role": "user", "content": "Hello"}]})
    lock = threading.Lock()
    state = {"next": 0, "tokens": 0, "latencies": [], "errors": {}}
    deadline = time.perf_counter() + time_limit

    def worker() -> None:
        with httpx.Client(timeout=600) as http:
            while True:
                with lock:
                    if state["next"] >= budget or time.perf_counter() > deadline:
                        return
                    index = state["next"]
                    state["next"] += 1
                body = {"model": model, "max_tokens": max_tokens, "temperature": 0,
                        "messages": [{"role": "user", "content": QUESTIONS[index % len(QUESTIONS)]}]}
                t0 = time.perf_counter()
                try:
                    response = http.post(f"{url}/v1/chat/completions", json=body)
                    status = response.status_code
                    used = response.json()["usage"]["completion_tokens"] if status == 200 else 0
                except httpx.HTTPError as err:
                    status, used = type(err).__name__, 0
                with lock:
                    if status == 200:
                        state["latencies"].append(time.perf_counter() - t0)
                        state["tokens"] += used
                    else:
                        state["errors"][str(status)] = state["errors"].get(str(status), 0) + 1

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    return {"requests": len(state["latencies"]), "seconds": elapsed, "tokens": state["tokens"],
            "latencies": state["latencies"], "errors": state["errors"]}


def _row(name: str, result: dict, baseline_tps: float | None) -> str:
    lat = sorted(result["latencies"]) or [float("nan")]
    p95 = lat[min(len(lat) - 1, round(0.95 * (len(lat) - 1)))]
    tps = result["tokens"] / result["seconds"]
    ratio = f"{tps / baseline_tps:.2f}×" if baseline_tps else "1.00×"
    errors = ", ".join(f"{k}: {v}" for k, v in result["errors"].items()) or "0"
    fivexx = sum(v for k, v in result["errors"].items() if k.startswith("5"))
    return (f"| {name} | {result['requests']} | {result['requests'] / result['seconds']:.2f} | {tps:.1f} | {ratio} "
            f"| {statistics.median(lat):.2f} | {p95:.2f} | {errors} | {fivexx} |")


def llama_cpp_single_stream(model_dir: str, max_tokens: int, repeats: int, threads: int) -> list[str]:
    """Decode tokens/s: direct llama-cpp-python vs the server's llama.cpp backend, same GGUF, one stream."""
    import httpx

    from tunesmith.deploy.gguf_runtime import open_llama
    from tunesmith.deploy.gguf_writer import write_gguf
    from tunesmith.models.loading import load_causal_lm, load_tokenizer

    folder = Path(tempfile.mkdtemp(prefix="serve-load-gguf-"))
    tokenizer = load_tokenizer(model_dir)
    write_gguf(load_causal_lm(model_dir), tokenizer, folder / "model.gguf", "f16")
    tokenizer.save_pretrained(folder)
    asks = [[{"role": "user", "content": QUESTIONS[i % 4]}] for i in range(repeats)]
    llm = open_llama(folder / "model.gguf", context=4096, threads=threads)  # the server's context size
    server = Server(str(folder), backend="llamacpp", threads=threads)
    totals = {"direct": [0, 0.0], "served": [0, 0.0]}  # tokens, seconds

    def direct_call(messages: list[dict], tokens: int) -> int:
        out = llm.create_chat_completion(messages=messages, max_tokens=tokens, temperature=0.0)
        return out["usage"]["completion_tokens"]

    def served_call(messages: list[dict], tokens: int) -> int:
        body = {"model": folder.name, "max_tokens": tokens, "temperature": 0, "messages": messages}
        return httpx.post(f"{server.url}/v1/chat/completions", json=body, timeout=600).json()["usage"][
            "completion_tokens"]

    try:  # one warm-up each (the server opens the GGUF on its first request), then alternate request by request
        direct_call(asks[0], 4)
        served_call(asks[0], 4)
        for messages in asks:
            for name, call in (("direct", direct_call), ("served", served_call)):
                t0 = time.perf_counter()
                totals[name][0] += call(messages, max_tokens)
                totals[name][1] += time.perf_counter() - t0
    finally:
        server.stop()
        llm.close()
        shutil.rmtree(folder, ignore_errors=True)  # a 270 MB GGUF per run
    (direct_tokens, direct_seconds), (served_tokens, served_seconds) = totals["direct"], totals["served"]
    direct, served = direct_tokens / direct_seconds, served_tokens / served_seconds
    return ["", f"Single-stream decode on the same f16 GGUF (llama.cpp), {repeats} chat requests each, greedy, "
            "one warm-up request each (untimed), the two paths alternating request by request:", "",
            "| path | output tokens | seconds | output tokens/s |", "|---|---|---|---|",
            f"| llama-cpp-python called directly (`create_chat_completion`) | {direct_tokens} | {direct_seconds:.2f} "
            f"| {direct:.1f} |",
            f"| tunesmith serve, backend llamacpp (HTTP, loopback) | {served_tokens} | {served_seconds:.2f} "
            f"| {served:.1f} |",
            f"| ratio served / direct | | | {served / direct:.2f} |"]


def run_environment(args, load_before: tuple[float, float, float]) -> list[str]:
    """What this run ran with, so a rerun elsewhere can be told apart from a regression: the machine and the
    libraries, the thread and allocator settings the server inherits, the commit, and the load around it."""
    import subprocess

    import torch

    from tunesmith.plan.calibrate import machine_key

    machine = machine_key()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=Path(__file__).parent, check=False).stdout.strip() or "unknown"
    variables = {name: os.environ[name] for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "KMP_AFFINITY",
                                                     "LD_PRELOAD", "MALLOC_ARENA_MAX", "DNNL_MAX_CPU_ISA")
                 if name in os.environ}
    load_after = os.getloadavg()
    return ["", "## Ran with", "",
            f"- machine: {machine['cpu']}, {os.cpu_count()} logical CPUs; python {machine['python']}, torch "
            f"{machine['torch']} (oneDNN {'on' if torch.backends.mkldnn.is_available() else 'off'}), "
            f"transformers {machine['transformers']}; commit {commit}",
            f"- threads: {args.threads} intra-op for the baseline and the server, "
            f"{torch.get_num_interop_threads()} inter-op; environment: "
            f"{', '.join(f'{k}={v}' for k, v in variables.items()) or 'no thread/allocator variables set'}",
            f"- warm-up: one untimed request before the baseline and before each server phase; time limit per "
            f"phase {args.time_limit:.0f} s; requests per phase: {args.budget_8} (8 clients), {args.budget_32} "
            "(32 clients)",
            f"- load average (1, 5, 15 min) before: {' '.join(f'{x:.1f}' for x in load_before)}, after: "
            f"{' '.join(f'{x:.1f}' for x in load_after)}"
            + (" — other work was running: compare ratios only with a run under similar load"
               if max(load_before[0], load_after[0]) > 1.5 else "")]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--baseline-prompts", type=int, default=8)
    parser.add_argument("--budget-8", type=int, default=48, help="requests sent by the 8 clients")
    parser.add_argument("--budget-32", type=int, default=96, help="requests sent by the 32 clients")
    parser.add_argument("--time-limit", type=float, default=300.0, help="seconds per load phase")
    parser.add_argument("--threads", type=int, default=1, help="torch threads for the baseline and the server "
                        "(1 keeps a shared machine's contention from distorting the comparison)")
    parser.add_argument("--linear-kernel", choices=["onednn", "torch"], default=None,
                        help="the server's serve.linear_kernel (default: the config default)")
    parser.add_argument("--no-torch", dest="torch", action="store_false", help="only the llama.cpp comparison")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "serve_load.md"))
    args = parser.parse_args(argv)

    import torch

    from tunesmith.config.serve import ServeConfig
    from tunesmith.deploy.gguf_runtime import llama_cpp_available
    from tunesmith.models.catalog import resolve

    torch.set_num_threads(args.threads)
    load_before = os.getloadavg()
    model_dir = str(resolve(args.model).path)
    rows, base_tps = [], None
    if args.torch:
        print("sequential generate baseline …", file=sys.stderr)
        baseline = sequential_generate(model_dir, QUESTIONS[: args.baseline_prompts], args.max_tokens)
        base_tps = baseline["tokens"] / baseline["seconds"]
        rows = [_row("sequential `model.generate` (no server)", baseline, None)]
    for clients, budget, batch in ((8, args.budget_8, 8), (32, args.budget_32, 16)) if args.torch else ():
        print(f"{clients} concurrent clients …", file=sys.stderr)
        server = Server(model_dir, max_batch=batch, threads=args.threads, kernel=args.linear_kernel)
        try:
            result = load(server.url, Path(model_dir).name, clients, budget, args.max_tokens, args.time_limit)
        finally:
            server.stop()
        rows.append(_row(f"server, {clients} concurrent clients (max_batch_size {batch})", result, base_tps))
    lines = [
        "# serve_load", "",
        f"Model `{args.model}`, greedy chat answers of at most {args.max_tokens} tokens, fp32 "
        f"(server linear layers: {args.linear_kernel or ServeConfig().linear_kernel}), "
        f"{args.threads} torch thread(s) for both the baseline and the server, "
        f"{os.cpu_count()} CPU cores shared with other work; all rows measured back to back in one run "
        f"({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}). Output tokens/s counts generated tokens "
        "(usage.completion_tokens); latency is per request as the client sees it.", "",
        "| setup | requests | requests/s | output tokens/s | vs sequential | p50 s | p95 s | errors | 5xx |",
        "|---|---|---|---|---|---|---|---|---|", *rows]
    if llama_cpp_available():
        print("llama.cpp single stream …", file=sys.stderr)
        lines += llama_cpp_single_stream(model_dir, args.max_tokens, repeats=6, threads=args.threads)
    else:
        lines += ["", "llama-cpp-python is not installed: the llama.cpp comparison was not run "
                  "(pip install 'tunesmith[llamacpp]')."]
    lines += run_environment(args, load_before)
    text = "\n".join(lines) + "\n"
    print(text)
    out = Path(args.out)
    old = out.read_text(encoding="utf-8") if out.exists() else ""
    if "\n## Notes" in old:  # hand-written notes survive a rerun (check they still match the new table)
        text += old[old.index("\n## Notes"):]
    out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
