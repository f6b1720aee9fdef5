"""Files (docs/api.md "Files"): presigned uploads, completion checks, listing, downloads, deletion.

Touch storage: ``service`` (the files table and the bucket, through ``storage``), ``storage`` (S3), URL
imports: ``import_requests`` (the request's checks, sealed for the worker, started) and ``import_worker``
(the worker's fetch).
"""
