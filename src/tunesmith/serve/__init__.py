"""The OpenAI-compatible server: `create_app(models, config)` builds it; `serve_in_thread` runs it."""

from tunesmith.serve.app import create_app
from tunesmith.serve.auth import KeyRing, RateLimiter, hash_key
from tunesmith.serve.engine import Engine, QueueFullError
from tunesmith.serve.registry import ModelRegistry, describe
from tunesmith.serve.runner import free_port, run, serve_in_thread
from tunesmith.serve.sampling import SamplingParams

__all__ = ["Engine", "KeyRing", "ModelRegistry", "QueueFullError", "RateLimiter", "SamplingParams",
           "create_app", "describe", "free_port", "hash_key", "run", "serve_in_thread"]
