"""What both storage backends share: the JSON form of items and records, and the repositories.

`codec` (items and feed states as JSON documents, dedup-key digests,
`to_json`), `values` (each record table's JSON), `repos` (one repository per
kind of record state over a `RecordSource`, the backend's (table, key) ->
JSON value), `alertqueue` (the alert queue, sent keys and match cursor as
records) and `repositories` (every record repository over one source). A
backend supplies a `RecordSource` and an item repository; nothing here
imports a backend or a database library.
"""
