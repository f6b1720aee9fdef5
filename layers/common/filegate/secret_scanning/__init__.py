"""GitHub secret scanning (docs/api.md §9): GitHub's partner program tells us where our keys leaked.

- ``github_keys``  GitHub's signing keys: parsed from its meta document, cached in the table (and in the
                   container), an unknown identifier refetched at most once a minute through the egress guard;
                   ``verify`` checks a delivery's ECDSA P-256 / SHA-256 signature over the raw body
- ``service``      ``receive``: the signature first, then each record judged alone (shape and checksum without
                   a read, then the hash lookup); a live key revoked through the keys service, its owner told
                   once (mail, audit ``key.leaked`` by ``github``, the ``key.leaked`` webhook); the feedback list
"""
