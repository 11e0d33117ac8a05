"""Finding what the bot has stored: query language, text index, search, same-story linking.

Pure: imports `bot.models` only (and the store's ports for reading items).
"""
