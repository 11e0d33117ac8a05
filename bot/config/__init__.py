"""feeds.yaml and the environment in, a frozen `Config` out; Slack-made changes merged over it.

Owns the YAML checker (file:line errors, one module per section of the file),
the units feeds.yaml is written in, the check-config description (secrets
redacted), the one private-address policy (asked by the checker, by
`/brief feed add` and by the fetch guard) and the feed and schedule overrides
made from Slack. Imports `bot.models`, the query parser (to check topic
queries) and the store's ports; never an adapter.
"""
