"""The same story from several feeds: recognized, linked, and shown once with "also in: ...".

`index` holds `StoryIndex`, which recognizes a repeat; `titles` the headline
normalization and similarity rules it uses; `extras` what the pipeline writes
into the items' extras to record a link. Imports `bot.models`,
`bot.find.textindex` and `bot.ingest.links` (document numbers, the identity
form of links) only.
"""
