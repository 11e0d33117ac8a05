"""Feeds in: fetch over HTTP, parse, clean text, Entity List facts, feed health, the poll.

The only importer of httpx (fetch/) and of feedparser (parse). Imports
`bot.models`, `bot.config` and the store's ports.
"""
