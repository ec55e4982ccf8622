"""``/api/docs``: the OpenAPI document as a page people read, rendered here (no CDN)."""

from __future__ import annotations

import html
import json
from typing import Any


def render(spec: dict[str, Any]) -> str:
    sections: dict[str, list[str]] = {}
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            tag = operation["tags"][0]
            params = ", ".join(
                f"{p['name']} ({p['in']}{', required' if p.get('required') else ''})" for p in operation.get("parameters", [])
            )
            body = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            sections.setdefault(tag, []).append(
                "<div class=op>"
                f"<h3><code>{method.upper()} {html.escape(path)}</code></h3><p>{html.escape(operation['summary'])}</p>"
                + (f"<p>parameters: {html.escape(params)}</p>" if params else "")
                + (f"<p>body: <code>{html.escape(json.dumps(body))}</code></p>" if body else "")
                + f"<p>responses: {', '.join(sorted(operation['responses']))}</p></div>"
            )
    body = "".join(f"<h2>{html.escape(tag)}</h2>{''.join(ops)}" for tag, ops in sections.items())
    title = html.escape(spec["info"]["title"])
    return (
        "<!doctype html><html lang=en><meta charset=utf-8>"
        f"<title>{title}: API</title>"
        "<style>body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}"
        "code{background:#f3f3f3;padding:0 .2em}.op{border-top:1px solid #ddd}</style>"
        f"<h1>{title}: API v1</h1><p>Money is <code>{{\"amount\": \"2.25\", \"currency\": \"EUR\"}}</code>, the amount a string. "
        "Errors are <code>application/problem+json</code> with a stable <code>type</code>. "
        "The machine-readable document is <a href=/api/v1/openapi.json>/api/v1/openapi.json</a>.</p>"
        f"{body}</html>"
    )
