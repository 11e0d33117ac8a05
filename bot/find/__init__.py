"""Finding things in what the bot has stored: the query language, the text index, search, same-story linking.

Pure: imports `bot.models` only (and the store's ports for reading items).
"""
