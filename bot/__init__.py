"""briefbot: a Slack briefing bot for technology and trade-policy teams."""

__version__ = "0.1.0"
