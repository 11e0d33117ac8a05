"""The Federal Register's documents API: what briefbot keeps of a document (`facts`).

Pure: parsing and typed records only. Fetching goes through `bot.ingest.fetch`
like every other download.
"""
