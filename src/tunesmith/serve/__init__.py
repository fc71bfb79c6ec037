"""The OpenAI-compatible server: `build_server(...)` assembles one (keys, backend, project mounts),
`create_app(models, config)` is its core app over a model registry, `serve_in_thread` runs it."""

from tunesmith.serve.app import create_app
from tunesmith.serve.auth import KeyRing, RateLimiter, hash_key
from tunesmith.serve.engine import Engine, QueueFullError
from tunesmith.serve.registry import ModelRegistry, describe
from tunesmith.serve.runner import free_port, run, serve_in_thread
from tunesmith.serve.sampling import SamplingParams
from tunesmith.serve.server import Server, build_server

__all__ = ["Engine", "KeyRing", "ModelRegistry", "QueueFullError", "RateLimiter", "SamplingParams", "Server",
           "build_server", "create_app", "describe", "free_port", "hash_key", "run", "serve_in_thread"]
