"""The OpenAPI 3.1 document, generated from the endpoint declarations."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from gateway.http.api import Api, Endpoint
from gateway.http.idempotency import HEADER
from gateway.http.schemas import PERIOD_PATTERN

REF = "#/components/schemas/{model}"

PROBLEM_SCHEMA = {
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "description": "a stable error code, e.g. already_flattred"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {"type": "object", "properties": {"field": {"type": "string"}, "message": {"type": "string"}}},
        },
    },
}


def document(api: Api, title: str, version: str, max_points: int) -> dict[str, Any]:
    """The document of this deployment: its bounds are the deployment's (``max_points``), so a client that keeps
    to the document is never refused for a value the document allows."""
    models: set[type[BaseModel]] = set()
    for endpoint in api.endpoints:
        models.update(m for m in (endpoint.body, endpoint.response) if m is not None)
    ordered = sorted(models, key=lambda m: m.__name__)
    mapping, definitions = models_json_schema(
        [(m, "validation") for m in ordered] + [(m, "serialization") for m in ordered], ref_template=REF
    )
    schemas = dict(definitions.get("$defs", {}))
    bodies = {endpoint.body.__name__ for endpoint in api.endpoints if endpoint.body is not None}
    for name in bodies & set(schemas):  # what a client sends; a flattr read back may predate a lower maximum
        points = schemas[name].get("properties", {}).get("points")
        if points is not None:
            points["maximum"] = max_points
    schemas["Problem"] = PROBLEM_SCHEMA
    paths: dict[str, dict[str, Any]] = {}
    for endpoint in api.endpoints:
        paths.setdefault(endpoint.path, {})[endpoint.method.lower()] = _operation(endpoint, mapping)
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "a personal access token"},
                "session": {"type": "apiKey", "in": "cookie", "name": "fgw_session"},
            },
        },
    }


def _operation(endpoint: Endpoint, mapping: Mapping[Any, Any]) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": endpoint.operation_id,
        "summary": endpoint.summary,
        "tags": [endpoint.tag],
        "parameters": _parameters(endpoint),
        "responses": _responses(endpoint, mapping),
    }
    if endpoint.access != "public":
        operation["security"] = [{"bearer": []}, {"session": []}]
    if endpoint.body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": mapping[endpoint.body, "validation"]}},
        }
    return operation


def _parameters(endpoint: Endpoint) -> list[dict[str, Any]]:
    parameters: list[dict[str, Any]] = []
    for name in endpoint.path_params():
        schema: dict[str, Any] = {"type": "integer", "minimum": 0} if name.endswith("_id") else {"type": "string"}
        if name == "period":
            schema["pattern"] = PERIOD_PATTERN
        parameters.append({"name": name, "in": "path", "required": True, "schema": schema})
    if endpoint.query is not None:
        query = endpoint.query.model_json_schema(ref_template=REF)
        required = set(query.get("required", []))
        for name, prop in query.get("properties", {}).items():
            parameters.append({"name": name, "in": "query", "required": name in required, "schema": prop})
    if endpoint.idempotent:
        parameters.append(
            {
                "name": HEADER,
                "in": "header",
                "required": True,
                "schema": {"type": "string", "minLength": 1, "maxLength": 200},
                "description": "the same key and body return the first response; another body is a 422",
            }
        )
    return parameters


def _responses(endpoint: Endpoint, mapping: Mapping[Any, Any]) -> dict[str, Any]:
    problem = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    responses: dict[str, Any] = {}
    if endpoint.response is None:
        responses["204"] = {"description": "done"}
    else:
        responses[str(endpoint.status)] = {
            "description": "success",
            "content": {"application/json": {"schema": mapping[endpoint.response, "serialization"]}},
        }
    # Any route: a malformed request, a bad bearer token (public routes too), a frozen caller, an unknown id.
    codes = {"400", "401", "403", "404", "413", "422"}
    codes |= {"415"} if endpoint.body is not None else set()
    codes |= {"409"} if endpoint.method != "GET" else set()  # a write that meets the state it needs changed
    codes |= {"429"} if endpoint.rate else set()
    codes |= {"402"} if endpoint.errors else set()
    codes |= {"502"} if endpoint.idempotent else set()  # a rail that failed to answer
    for code in sorted(codes):
        responses[code] = {"description": "a problem; see its type", "content": problem}
    return responses
