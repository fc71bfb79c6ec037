"""Acceptance: the real `openai` client, unchanged, against tunesmith's server on loopback, with the real
trainer on the tiny model: upload, broken upload, job to success, events, checkpoints, chat with the
fine-tuned model, evaluation report, cancel mid-run, and a server crash mid-job that the job survives.
"""

from __future__ import annotations

import io
import json
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import httpx
import openai
import pytest
from ft_helpers import chat_line, wait_for

from tunesmith.config import ProjectConfig
from tunesmith.project import Project
from tunesmith.serve import free_port

HERE = Path(__file__).parent
KEY = "sk-local-test"
FACTS = [("What colour is the sky?", "Blue."), ("What is 2 + 2?", "4."), ("Capital of France?", "Paris."),
         ("Opposite of hot?", "Cold."), ("How many legs has a cat?", "Four."), ("Water freezes at?", "0 °C."),
         ("Largest planet?", "Jupiter."), ("Author of Hamlet?", "Shakespeare.")]


def jsonl(rows) -> bytes:
    return "".join(chat_line(q, a) + "\n" for q, a in rows).encode()


class Server:
    def __init__(self, root: Path, model: Path):
        self.root, self.model, self.port, self.process = root, model, free_port(), None

    def start(self) -> Server:
        log = (self.root / "server.log").open("ab")
        command = ["from tunesmith.cli import main; main()", "serve", str(self.model), "--project", str(self.root),
                   "--port", str(self.port)]  # `tunesmith serve`, the real command
        self.process = subprocess.Popen([sys.executable, "-c", *command], stdout=log, stderr=subprocess.STDOUT)
        wait_for(self._healthy, timeout=120, every=0.3)
        return self

    def _healthy(self) -> bool:
        assert self.process.poll() is None, (self.root / "server.log").read_text()[-3000:]
        try:
            return httpx.get(f"http://127.0.0.1:{self.port}/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def crash(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"


@pytest.fixture(scope="module")
def server(tmp_path_factory, tiny_lm_dir):
    config = ProjectConfig.model_validate({
        "name": "openai-drop-in",
        "model": {"max_length": 64},
        "method": {"name": "lora", "r": 4, "alpha": 8},
        "training": {"batch_size": 2, "eval_every": 2, "learning_rate": 5e-3, "warmup_ratio": 0.0,
                     "num_threads": 1},
        "evaluation": {"max_new_tokens": 6, "bootstrap_samples": 100, "few_shot_k": 1, "perplexity": False},
        "serve": {"api_keys": [KEY], "default_max_tokens": 8},
        "finetune_api": {"model_map": {"gpt-4o-mini-2024-07-18": str(tiny_lm_dir)}, "evaluation_examples": 2},
    })
    project = Project.create(tmp_path_factory.mktemp("openai-client") / "project", config)
    running = Server(project.root, tiny_lm_dir).start()
    yield running
    running.stop()


def events_of(client, job_id) -> list:
    return list(reversed(client.fine_tuning.jobs.list_events(job_id, limit=1000).data))


def finished(client, job_id):
    job = client.fine_tuning.jobs.retrieve(job_id)
    return job if job.status in {"succeeded", "failed", "cancelled"} else None


def documented_script() -> str:
    text = (HERE.parent.parent / "docs" / "openai-finetuning.md").read_text(encoding="utf-8")
    return text.split("```python\n", 1)[1].split("```", 1)[0]


def test_the_documented_openai_script_fine_tunes_and_serves_locally(server, tmp_path, monkeypatch, capsys):
    client = openai.OpenAI(base_url=server.base_url, api_key=KEY, max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=server.base_url, api_key="wrong", max_retries=0).files.list()

    broken = jsonl(FACTS[:2]) + b'{"messages": [{"role": "user", "content": "hi"}]\n'
    with pytest.raises(openai.BadRequestError) as rejected:
        client.files.create(file=("broken.jsonl", broken), purpose="fine-tune")
    assert rejected.value.body["param"] == "file"
    assert "broken.jsonl:3" in rejected.value.message

    # the script from docs/openai-finetuning.md, with only its base_url (and key) pointed at this server
    (tmp_path / "train.jsonl").write_bytes(jsonl(FACTS))
    (tmp_path / "valid.jsonl").write_bytes(jsonl(FACTS[:2]))
    monkeypatch.chdir(tmp_path)
    real_sleep = time.sleep
    monkeypatch.setattr(time, "sleep", lambda seconds: real_sleep(min(seconds, 1.0)))
    script = documented_script().replace('"http://127.0.0.1:8000/v1"', repr(server.base_url))
    namespace: dict = {}
    exec(compile(script.replace('"sk-local"', repr(KEY)), "docs/openai-finetuning.md", "exec"), namespace)
    done = namespace["job"]
    printed = capsys.readouterr().out
    assert done.status == "succeeded", printed
    assert done.fine_tuned_model == f"ft:gpt-4o-mini-2024-07-18:tunesmith-local:support:{done.id[6:14]}"
    assert done.hyperparameters.n_epochs == 3 and done.trained_tokens and done.trained_tokens > 0
    assert "The job has successfully completed" in printed
    assert isinstance(namespace["answer"].choices[0].message.content, str)
    job = done
    events = events_of(client, job.id)
    messages = [e.message for e in events]
    assert [e.data["step"] for e in events if e.type == "metrics" and e.data.get("train_loss")] == list(range(1, 13))
    assert any(m.startswith("Evaluation report") for m in messages)
    assert messages[-1] == "The job has successfully completed"

    checkpoints = client.fine_tuning.jobs.checkpoints.list(job.id).data
    steps = [c.step_number for c in checkpoints]
    assert steps[:2] == [12, 10] and len(steps) <= 3  # the newest two (keep_checkpoints) and the best one
    assert checkpoints[0].metrics.train_loss is not None and checkpoints[0].metrics.valid_loss is not None

    assert done.fine_tuned_model in [m.id for m in client.models.list().data]
    answer = client.chat.completions.create(model=done.fine_tuned_model,
                                            messages=[{"role": "user", "content": "Capital of France?"}])
    assert isinstance(answer.choices[0].message.content, str) and answer.usage.prompt_tokens > 0

    results = client.files.content(done.result_files[0]).text.splitlines()
    assert results[0].startswith("step,train_loss") and len(results) > 8
    headers = {"Authorization": f"Bearer {KEY}"}
    report = httpx.get(f"{server.base_url}/fine_tuning/jobs/{job.id}/report", headers=headers, timeout=30).json()
    assert report["report"]["split"] == "validation" and len(report["summary"]["contenders"]) == 3
    for format, expected in {"run": "adapter/adapter_config.json", "hf": "model.safetensors"}.items():
        archive = httpx.get(f"{server.base_url}/fine_tuning/jobs/{job.id}/export", params={"format": format},
                            headers=headers, timeout=300)
        assert archive.status_code == 200, archive.text
        with tarfile.open(fileobj=io.BytesIO(archive.content)) as tar:
            names = tar.getnames()
        assert any(name.endswith(expected) for name in names), names
        assert not any("/checkpoints" in name for name in names)


def test_cancel_mid_run_and_a_crash_mid_job(server):
    client = openai.OpenAI(base_url=server.base_url, api_key=KEY, max_retries=0)
    training = client.files.create(file=("train.jsonl", jsonl(FACTS)), purpose="fine-tune")
    long_job = {"model": "gpt-4o-mini-2024-07-18", "training_file": training.id,
                "hyperparameters": {"n_epochs": 50}}

    cancelled = client.fine_tuning.jobs.create(**long_job)
    wait_for(lambda: client.fine_tuning.jobs.checkpoints.list(cancelled.id).data, timeout=180, every=0.5)
    client.fine_tuning.jobs.cancel(cancelled.id)
    stopped = wait_for(lambda: finished(client, cancelled.id), timeout=60)
    assert stopped.status == "cancelled" and stopped.fine_tuned_model is None
    run_dir = Path(json.loads((server.root / "finetune" / "jobs" / cancelled.id / "spec.json").read_text())["run_dir"])
    assert json.loads((run_dir / "run.json").read_text())["status"] == "interrupted"  # stopped mid-run

    survivor = client.fine_tuning.jobs.create(**long_job)  # 200 steps
    wait_for(lambda: client.fine_tuning.jobs.checkpoints.list(survivor.id).data, timeout=180, every=0.3)
    server.crash()  # SIGKILL: no shutdown code runs; training notices and checkpoints on its own
    server.start()
    client = openai.OpenAI(base_url=server.base_url, api_key=KEY, max_retries=0)
    done = wait_for(lambda: finished(client, survivor.id), timeout=300, every=1.0)
    messages = [e.message for e in events_of(client, survivor.id)]
    assert done.status == "succeeded", messages
    [restart] = [m for m in messages if m.startswith("The server restarted during this job")]
    resumed_at = int(restart.removesuffix(".").rsplit(" ", 1)[1])
    assert 0 < resumed_at < 200, restart  # resumed mid-run, not retrained from scratch or finished already
    assert f"Fine-tuning job resumed from checkpoint step {resumed_at}" in messages
    steps = [e.data["step"] for e in events_of(client, survivor.id) if e.type == "metrics"]
    assert sorted(set(steps)) == list(range(1, 201))
    chat = client.chat.completions.create(model=done.fine_tuned_model, messages=[{"role": "user", "content": "Hi"}])
    assert chat.choices[0].finish_reason in {"stop", "length"}
    listed = [job.id for job in client.fine_tuning.jobs.list(limit=1)]  # the SDK pages through `after`
    assert listed[:2] == [survivor.id, cancelled.id] and len(listed) == len(set(listed))
