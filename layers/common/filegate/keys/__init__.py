"""API keys (API.md §1): who a caller is, and the keys an account manages.

Pure: ``keyformat`` (shape, checksum, digest), ``ipallow`` (allowlists), ``context`` (the authorizer
context that travels to the functions). Touch storage: ``authorizer`` (reads keys and accounts),
``service`` (creates, rotates, revokes keys and accounts), ``cacheflush`` (API Gateway).
"""
