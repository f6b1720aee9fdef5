"""Per-key activity (docs/api.md §5 ``GET /v1/keys/{id}/activity``): requests by outcome, conversions and units.

Recording adds no write to a request. Each request already logs; its last log line (``record``) carries
the key, the outcome, the conversions it started and the source address. A CloudWatch Logs subscription
on the HTTP functions' and the authorizer's log groups hands those lines, in batches, to the rollup
function (``rollup``), which adds each batch to hourly and daily items of the counters table: one write
per key and bucket per batch, whatever the number of requests (docs/activity.md has the cost).

Pure: ``outcomes``, ``record`` (a log line), ``rollup.tally``, ``query.buckets``. Storage: ``db.activity``.
"""
