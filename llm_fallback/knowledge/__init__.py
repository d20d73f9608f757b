"""The notes as a searchable index: ingest, chunk, embed, store, retrieve, calibrate."""
