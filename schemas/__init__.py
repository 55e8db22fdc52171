"""Declared inputs: every ``/api`` and ``/v1`` request body and query described once
(:mod:`schemas.fields`), checked by the handlers and turned into the OpenAPI document
served at ``/api/openapi.json`` (:mod:`schemas.openapi`)."""
