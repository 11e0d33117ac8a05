"""Feeds in: fetch over HTTP, parse, clean text, Entity List facts, feed health.

The only importer of h11 (fetch/wire) and of feedparser (parse). Imports
`bot.models`, `bot.headers`, `bot.config` and the store's ports.
"""
