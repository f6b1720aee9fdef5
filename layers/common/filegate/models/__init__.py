"""The API's request and response bodies (docs/api.md §5) as pydantic models, by resource.

The routes in functions/*/app.py declare them (``response_model``, request bodies, multipart forms, the errors
each may send); ``make openapi`` assembles the OpenAPI document from FastAPI's own schemas of them, and a test
holds the SDK's TypedDicts (clients/python) to the same fields. Response models allow extra fields: a field
the domain adds is sent as it is, never stripped, until its model lists it.
"""
