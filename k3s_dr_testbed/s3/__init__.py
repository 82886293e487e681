"""A real S3 server on loopback for offsite tests and benchmarks (:mod:`.server`)."""
