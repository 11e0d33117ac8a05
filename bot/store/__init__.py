"""Durable state: typed ports (`ports/`) and the TinyDB backend (`tinydb/`).

The only importer of tinydb, filelock and orjson's file codec. Everything
above it speaks the typed records and Protocols of `ports/`.
"""
