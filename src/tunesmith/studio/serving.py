"""The API server as the studio runs it: the project's `serve` settings, on loopback, with feedback logging.

Runs inside a background job (`runner serve`), so it keeps answering while the page is closed.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from pathlib import Path

from tunesmith.errors import TunesmithError


def build_server(project_root: Path, model: str, port: int):
    """`tunesmith serve --project ROOT MODEL --host 127.0.0.1 --port PORT`, as a `tunesmith.serve.Server`."""
    from tunesmith.project import Project
    from tunesmith.serve import build_server as assemble

    return assemble([model], project=Project.load(project_root), host="127.0.0.1", port=port)


def serve_forever(project_root: Path, model: str, port: int) -> None:
    from tunesmith.serve import run

    server = build_server(project_root, model, port)
    print(f"serving {model} on {server.url}{' (API keys required)' if server.keyed else ''}", flush=True)
    run(server.app, server.settings.host, port, log_level="warning")


def client_key(project_root: Path) -> str | None:
    """The key the studio sends to its own server: the first plain key from the project or TUNESMITH_API_KEYS."""
    from tunesmith.project import Project
    from tunesmith.serve.auth import KeyRing
    from tunesmith.serve.auth import client_key as first_key

    settings = Project.load(project_root).config.serve
    key = first_key(settings)
    if key is None and KeyRing.from_settings(settings).enabled:
        raise TunesmithError("the server only knows hashed keys (serve.api_key_hashes), so the studio cannot ask it.",
                             "Start the studio with TUNESMITH_API_KEYS=YOUR_KEY set, or add it to serve.api_keys.")
    return key


def model_id(model: str) -> str:
    """The id clients send as `model` (the server names a folder by its last part)."""
    path = Path(model)
    return path.name if path.is_dir() else model


def _request(url: str, body: dict | None = None, api_key: str | None = None, timeout: float = 120.0) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    request = urllib.request.Request(url, data=data, headers=headers)
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())


def wait_until_up(base_url: str, timeout: float = 90.0, is_running=lambda: True) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            _request(f"{base_url}/health", timeout=2)  # the one route that needs no key
            return
        except (urllib.error.URLError, OSError, ValueError):
            if not is_running():
                raise TunesmithError("the server stopped while starting.", "See the server log below.") from None
            time.sleep(0.5)
    raise TunesmithError(f"the server at {base_url} did not answer within {timeout:.0f} s.", "See the server log.")


def ask(base_url: str, model: str, question: str, max_tokens: int | None = None,
        api_key: str | None = None) -> tuple[str, str]:
    """One chat completion through the real HTTP API, exactly as a client would send it (a user message, no
    sampling settings: the model's inference contract supplies them): (answer, response id)."""
    body = {"model": model_id(model), "messages": [{"role": "user", "content": question}]}
    if max_tokens is not None:
        body["max_tokens"] = max_tokens
    try:
        reply = _request(f"{base_url}/v1/chat/completions", body, api_key)
    except urllib.error.HTTPError as err:
        detail = err.read().decode(errors="replace")[:300]
        raise TunesmithError(f"the server answered {err.code}: {detail}",
                             "Check the model and the server log.") from None
    return reply["choices"][0]["message"]["content"], reply.get("id", "")


def send_feedback(base_url: str, response_id: str, question: str, rating: str, correction: str | None,
                  api_key: str | None = None) -> dict:
    """Rate an answer through the server's `/v1/feedback`, as a client app would."""
    body = {"response_id": response_id or None, "rating": rating, "correction": correction or None,
            "messages": [{"role": "user", "content": question}]}
    try:
        return _request(f"{base_url}/v1/feedback", body, api_key)
    except urllib.error.HTTPError as err:
        detail = err.read().decode(errors="replace")[:300]
        raise TunesmithError(f"the server refused the feedback ({err.code}): {detail}",
                             "Is this a server started by the studio (it accepts feedback)?") from None


def snippets(base_url: str, model: str) -> tuple[str, str]:
    """Copy-paste clients: curl and the Python `openai` package."""
    name = model_id(model)
    curl = (f"curl {base_url}/v1/chat/completions \\\n  -H 'Content-Type: application/json' \\\n"
            f"  -H 'Authorization: Bearer YOUR_KEY' \\\n"
            f"  -d '{{\"model\": \"{name}\", \"messages\": [{{\"role\": \"user\", \"content\": \"Hello!\"}}]}}'")
    python = ("from openai import OpenAI\n\n"
              f"client = OpenAI(base_url=\"{base_url}/v1\", api_key=\"YOUR_KEY\")  # any text if keys are off\n"
              f"reply = client.chat.completions.create(\n    model=\"{name}\",\n"
              "    messages=[{\"role\": \"user\", \"content\": \"Hello!\"}],\n)\n"
              "print(reply.choices[0].message.content)")
    return curl, python
