"""Webhooks (docs/api.md §5): Standard Webhooks signing and verification, the URL policy, delivery, retries.

Pure: ``events``, ``signing``, ``verify``, ``delivery``, ``schedule`` (the URL policy and pinned
connections are ``filegate.egress``'s, shared with URL imports).
Touch storage: ``service`` (endpoints, secrets, deliveries, emitting events) and ``dispatch`` (the
dispatcher's SQS side). Import the submodule you need, so the API's registration path (``egress.policy``,
``signing``) does not load http.client and ssl (``delivery``):

- ``events``    event type constants, ``parse_event_types``
- ``signing``   secrets, message ids, body, ``sign``, ``sign_headers``, ``build_webhook``
- ``verify``    receiver-side ``verify`` (what customers run), ``WebhookVerificationError``
- ``delivery``  ``deliver``, ``vet_and_deliver`` -> ``DeliveryResult``
- ``schedule``  retry delays, dead-lettering, SQS hops
- ``service``   register, list, delete, test-send endpoints; secrets; emit events; delivery log
- ``dispatch``  one SQS message is one due delivery attempt: sign, vet, deliver, retry, dead-letter

Their settings (``WebhookStore``, ``WebhookPolicy``, ``WebhookEmitter``) live in ``filegate.settings``.
"""
