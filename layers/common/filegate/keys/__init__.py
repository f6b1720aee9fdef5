"""API keys (docs/api.md §1): who a caller is, and the keys an account manages.

Pure: ``keyformat`` (shape, checksum, digest), ``ipallow`` (allowlists), ``access`` (the route check every
function makes; the caller's context it checks is ``filegate.context``), ``authority``
(no key makes a key that can do more than itself), ``checkpoints`` (named points inside a change, where
tests hold one change while another runs). Touch storage: ``authorizer`` (authentication: reads keys and
accounts), ``stamps`` (versions changes and stamps them on the account's counters), ``freshness`` (a
function's re-check when a stamp is newer than its context), ``backstop`` (the stream's stamper: finishes a
change whose caller died before stamping it), ``changes`` (a change's version, and its retry when a newer
change landed first), ``service`` (creates, changes, rotates, revokes keys). The accounts the keys belong to
are ``filegate.accounts``.
"""
