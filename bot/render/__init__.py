"""Views to Slack messages: Jinja2 templates to Block Kit plus text, within Slack's limits;
and charts to PNG images (`charts`).

The only importer of jinja2, and (`charts` alone, lazily) of matplotlib; feed
text is escaped by construction here. Imports `bot.models`, `bot.ingest`'s
text and facts, and `bot.brief`'s chart and monthly records.
"""
