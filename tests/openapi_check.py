"""Checks responses (and request bodies) against channels/openapi.yaml with a JSON Schema validator."""

from __future__ import annotations

from functools import cache
from typing import Any

import jsonschema
import requests
import yaml

from tests.servers import ROOT

SPEC = ROOT / "channels" / "openapi.yaml"


@cache
def spec() -> dict[str, Any]:
    return yaml.safe_load(SPEC.read_text(encoding="utf-8"))


def _pointer(*parts: str) -> str:
    return "#/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


def _validator(pointer: str) -> jsonschema.Draft202012Validator:
    # The whole document is the root, so "#/components/schemas/..." references resolve.
    return jsonschema.Draft202012Validator({**spec(), "$ref": pointer})


def request_errors(body: Any, path: str = "/webhooks/intranet/webhook") -> list[str]:
    pointer = _pointer("paths", path, "post", "requestBody", "content", "application/json", "schema")
    return [e.message for e in _validator(pointer).iter_errors(body)]


def assert_conforms(response: requests.Response, method: str = "post") -> None:
    """The status is documented for the operation, and the JSON body matches its schema."""
    path = response.request.path_url.split("?")[0]
    operation = spec()["paths"][path][method]
    status = str(response.status_code)
    assert status in operation["responses"], f"undocumented status {status} for {method.upper()} {path}"
    content = operation["responses"][status].get("content", {})
    if "application/json" in content:
        assert response.headers.get("content-type", "").startswith("application/json"), response.headers
        pointer = _pointer(
            "paths", path, method, "responses", status, "content", "application/json", "schema"
        )
        _validator(pointer).validate(response.json())
    for header in operation["responses"][status].get("headers", {}):
        assert header in response.headers, f"{status} response lacks the documented {header} header"
