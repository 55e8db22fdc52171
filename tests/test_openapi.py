"""``GET /api/openapi.json``: public, OpenAPI 3.1, generated from the declarations that check
the requests (every /api route and method, the /v1 bodies, security schemes, links)."""

from __future__ import annotations

import json

import handlers.api
from schemas import openapi
from tests.conftest import Gateway


async def test_openapi_document_is_public_and_complete(gw: Gateway) -> None:
    code, doc = await gw.api("GET", "/api/openapi.json", token=None)
    assert code == 200 and doc["openapi"] == "3.1.0"
    json.dumps(doc, allow_nan=False)  # no NaN/Infinity anywhere
    paths = doc["paths"]
    for p in ("/api/token/", "/api/token/{id}", "/api/channel/", "/api/user/login", "/api/option/", "/api/log/",
              "/api/status", "/api/openapi.json", "/v1/chat/completions", "/v1/embeddings", "/v1/messages"):
        assert p in paths, p
    assert set(doc["components"]["securitySchemes"]) >= {"session", "accessToken", "apiKey"}
    create = paths["/api/token/"]["post"]
    body = create["requestBody"]["content"]["application/json"]["schema"]
    assert body["properties"]["remain_quota"]["maximum"] <= 2**63 - 1
    assert body["properties"]["name"]["maxLength"] == 30
    assert create["security"] == [{"session": []}, {"accessToken": []}]
    assert {"GetCreated", "DeleteCreated", "UpdateCreated"} <= set(create["responses"]["200"]["links"])
    assert paths["/api/user/login"]["post"]["security"] == []
    page = next(q for q in paths["/api/token/"]["get"]["parameters"] if q["name"] == "p")
    assert page["in"] == "query" and page["schema"]["type"] == "integer"
    chat = paths["/v1/chat/completions"]["post"]
    schema = chat["requestBody"]["content"]["application/json"]["schema"]
    assert schema["required"] == ["model", "messages"] and schema["properties"]["messages"]["minItems"] == 1
    assert chat["security"] == [{"apiKey": []}]
    assert "error" in chat["responses"]["default"]["content"]["application/json"]["schema"]["properties"]
    msgs = paths["/v1/messages"]["post"]["responses"]["default"]["content"]["application/json"]["schema"]
    assert msgs["properties"]["type"] == {"const": "error"}
    # every /api handler method is described, with its declared inputs
    ops = {(m.upper(), p) for p, item in paths.items() for m in item}
    assert len(ops) >= 80 and ("PUT", "/api/option/") in ops and ("DELETE", "/api/channel/{id}") in ops
    assert len({o["operationId"] for item in paths.values() for o in item.values()}) == len(ops)


def test_every_api_route_is_in_the_document() -> None:
    doc = openapi.build(handlers.api.routes)
    for route in handlers.api.routes:
        cls = route[1]
        for method in ("get", "post", "put", "delete"):
            if getattr(cls, method, None) is not None and method.upper() in cls.SUPPORTED_METHODS \
                    and getattr(cls, method) is not getattr(__import__("tornado.web").web.RequestHandler, method):
                assert getattr(cls, "ops", {}).get(method.upper()) is not None, (route[0], method)
    try:
        from openapi_spec_validator import validate
    except ImportError:
        return
    validate(doc)
