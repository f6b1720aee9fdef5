"""API keys (API.md §1): who a caller is, and the keys an account manages.

Pure: ``keyformat`` (shape, checksum, digest), ``ipallow`` (allowlists), ``context`` (the authorizer
context that travels to the functions), ``access`` (the route check every function makes). Touch storage:
``authorizer`` (authentication: reads keys and accounts), ``stamps`` (versions changes and stamps them on
the account's counters), ``freshness`` (a function's re-check when a stamp is newer than its context),
``service`` (creates, rotates, revokes keys and accounts).
"""
