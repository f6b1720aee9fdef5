"""Webhooks (docs/api.md §5): Standard Webhooks signing and verification, the URL policy, delivery, retries.

Pure: ``events``, ``signing``, ``verify``, ``delivery``, ``schedule`` (the URL policy and pinned
connections are ``filegate.egress``'s, shared with URL imports).
Touch storage, one job each: ``signing_secrets``, ``endpoints``, ``deliveries`` (the delivery log),
``emitting`` (events to deliveries), ``access`` (the plan, the caller's endpoint) and ``dispatch`` (the
dispatcher's SQS side). Import the submodule you need, so the API's registration path (``egress.policy``,
``signing``) does not load http.client and ssl (``delivery``):

- ``events``    event type constants, ``parse_event_types``
- ``signing``   secrets, message ids, body, ``sign``, ``sign_headers``, ``build_webhook``
- ``verify``    receiver-side ``verify`` (what customers run), ``WebhookVerificationError``
- ``delivery``  ``deliver``, ``vet_and_deliver`` -> ``DeliveryResult``
- ``schedule``  retry delays, dead-lettering, SQS hops
- ``signing_secrets``  create or rotate, reveal the account's signing secret
- ``endpoints`` register, list, delete, test-send endpoints; check a conversion's ``webhook_url``
- ``deliveries`` the delivery log, resending a delivery
- ``emitting``  an event to one delivery per destination, its first attempt queued
- ``access``    webhooks need the pro plan; the caller's own endpoint
- ``dispatch``  one SQS message is one due delivery attempt: sign, vet, deliver, retry, dead-letter

Their settings (``WebhookStore``, ``WebhookPolicy``, ``WebhookEmitter``) live in ``filegate.settings``.
"""
