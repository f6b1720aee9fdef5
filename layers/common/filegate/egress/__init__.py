"""The one egress guard (docs/architecture.md): every outbound request FileGate makes on a customer's behalf.

- ``policy``      ``vet_url`` -> ``VettedTarget``: the URL rules, every address resolved and checked in
                  every spelling; ``RefusedDestination`` (422 invalid_parameter)
- ``connection``  ``PinnedConnection``: dials only the checked addresses, TLS still verifies the host name;
                  one watchdog bounds each exchange by a deadline
- ``fetch``       ``fetch``: GET with redirects followed by hand (each re-checked), a byte cap on what
                  arrives, private headers to the original origin only (URL imports)

Webhook delivery (``filegate.webhooks.delivery``) and URL imports (``filegate.files.import_requests`` and
``import_worker``) use it; nothing else opens outbound connections to customer-chosen destinations.
"""
