"""Files (docs/api.md "Files"): presigned uploads, completion checks, listing, downloads, deletion.

Touch storage: ``service`` (the files table and the bucket, through ``storage``), ``storage`` (S3).
"""
