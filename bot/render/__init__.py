"""Views to Slack messages: Jinja2 templates to Block Kit plus text, within Slack's limits.

The only importer of jinja2; feed text is escaped by construction here.
Imports `bot.models` and `bot.ingest.text` only.
"""
