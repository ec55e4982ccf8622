"""``/api/docs``: the OpenAPI document as a page people read, rendered here (no CDN, no script)."""

from __future__ import annotations

import html
from collections.abc import Iterable
from typing import Any


def render(spec: dict[str, Any]) -> str:
    schemas = spec.get("components", {}).get("schemas", {})
    sections: dict[str, list[str]] = {}
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            sections.setdefault(operation["tags"][0], []).append(_operation(method, path, operation, schemas))
    body = "".join(f"<h2>{html.escape(tag)}</h2>{''.join(ops)}" for tag, ops in sections.items())
    title = html.escape(spec["info"]["title"])
    return (
        "<!doctype html><html lang=en><meta charset=utf-8>"
        f"<title>{title}: API</title>"
        "<style>body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}"
        "code{background:#f3f3f3;padding:0 .2em}.op{border-top:1px solid #ddd}ul{margin:0}</style>"
        f'<h1>{title}: API v1</h1><p>Money is <code>{{"amount": "2.25", "currency": "EUR"}}</code>, the amount a string. '
        "Errors are <code>application/problem+json</code> with a stable <code>type</code>. "
        "The machine-readable document is <a href=/api/v1/openapi.json>/api/v1/openapi.json</a>.</p>"
        f"{body}</html>"
    )


def _operation(method: str, path: str, operation: dict[str, Any], schemas: dict[str, Any]) -> str:
    parts = [
        f"<div class=op><h3><code>{method.upper()} {html.escape(path)}</code></h3><p>{html.escape(operation['summary'])}</p>"
    ]
    parameters = [(p["name"], p["in"], p.get("required", False), p.get("schema", {})) for p in operation.get("parameters", [])]
    if parameters:
        parts.append(
            "<p>parameters:</p>"
            + _fields((f"{name} ({where})", required, schema) for name, where, required, schema in parameters)
        )
    body = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
    if body:
        parts.append(f"<p>body: {_name(body)}</p>" + _properties(body, schemas))
    for status, response in sorted(operation["responses"].items()):
        schema = response.get("content", {}).get("application/json", {}).get("schema")
        if schema:
            parts.append(f"<p>{status}: {_name(schema)}</p>" + _properties(schema, schemas))
    parts.append(f"<p>answers: {', '.join(sorted(operation['responses']))}</p></div>")
    return "".join(parts)


def _properties(schema: dict[str, Any], schemas: dict[str, Any]) -> str:
    """The fields of an object schema (followed through its ``$ref``), one a line."""
    schema = schemas.get(_ref(schema), schema)
    required = set(schema.get("required", []))
    return _fields((name, name in required, field) for name, field in schema.get("properties", {}).items())


def _fields(fields: Iterable[tuple[str, bool, dict[str, Any]]]) -> str:
    items = [
        f"<li><code>{html.escape(name)}</code> {html.escape(_type(schema))}{', required' if required else ''}"
        + (f": {html.escape(schema['description'])}" if schema.get("description") else "")
        + "</li>"
        for name, required, schema in fields
    ]
    return f"<ul>{''.join(items)}</ul>" if items else ""


def _type(schema: dict[str, Any]) -> str:
    if _ref(schema):
        return _ref(schema)
    if "anyOf" in schema:
        return " or ".join(_type(option) for option in schema["anyOf"])
    if schema.get("type") == "array":
        return f"list of {_type(schema.get('items', {}))}"
    return str(schema.get("type", "any"))


def _name(schema: dict[str, Any]) -> str:
    return f"<code>{html.escape(_ref(schema) or _type(schema))}</code>"


def _ref(schema: dict[str, Any]) -> str:
    return str(schema.get("$ref", "")).rpartition("/")[2]
