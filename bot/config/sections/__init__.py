"""The sections of feeds.yaml, one module each: settings, feeds, topics, digests.

Each reads its part of the composed YAML tree with a `bot.config.checker.Checker`
(which collects the problems) into the value objects of `bot.models` and
`bot.config.model`; `bot.config.schema` puts the parts together.
"""
