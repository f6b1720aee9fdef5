"""API keys (docs/api.md §1): who a caller is, and the keys an account manages.

Pure: ``keyformat`` (shape, checksum, digest), ``ipallow`` (allowlists), ``context`` (the authorizer
context that travels to the functions), ``access`` (the route check every function makes), ``authority``
(no key makes a key that can do more than itself), ``checkpoints`` (named points inside a change, where
tests hold one change while another runs). Touch storage: ``authorizer`` (authentication: reads keys and
accounts), ``stamps`` (versions changes and stamps them on the account's counters), ``freshness`` (a
function's re-check when a stamp is newer than its context), ``backstop`` (the stream's stamper: finishes a
change whose caller died before stamping it), ``service`` (creates, rotates, revokes keys and accounts).
"""
