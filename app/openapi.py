"""The app's own OpenAPI document as request checks consult it: which documented operations a
request path reaches. It does not depend on how the framework arranges its routes."""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI

__all__ = ["path_operations"]

_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})
_PARAMETER = re.compile(r"\{[^/{}]+\}")


def _patterns(app: FastAPI) -> list[tuple[re.Pattern[str], dict[str, Any]]]:
    cached: list[tuple[re.Pattern[str], dict[str, Any]]] | None = getattr(
        app.state, "openapi_path_patterns", None
    )
    if cached is None:
        cached = []
        for template, path_item in app.openapi()["paths"].items():
            literals = _PARAMETER.split(template)
            pattern = "[^/]+".join(re.escape(literal) for literal in literals)
            cached.append((re.compile(pattern), path_item))
        app.state.openapi_path_patterns = cached
    return cached


def path_operations(app: FastAPI, path: str) -> dict[str, dict[str, Any]]:
    """The documented operations answering ``path``, by upper-case method; empty for a path
    outside the document (/metrics, the docs themselves)."""
    operations: dict[str, dict[str, Any]] = {}
    for pattern, path_item in _patterns(app):
        if pattern.fullmatch(path):
            operations.update((m.upper(), op) for m, op in path_item.items() if m in _METHODS)
    return operations
