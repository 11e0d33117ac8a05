"""The top: the runtime that strings the stages together, the scheduler, the service, the CLI.

Imports every other package; nothing imports it.
"""
