"""Models: the catalog of bundled models, loading, and tiny test models."""

from tunesmith.models.catalog import CATALOG, ResolvedModel, resolve

resolve_model = resolve

__all__ = ["CATALOG", "ResolvedModel", "resolve", "resolve_model"]
