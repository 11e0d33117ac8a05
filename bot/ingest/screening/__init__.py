"""The Consolidated Screening List and the named entities of Entity List rules.

Owns reading the CSL (`csl`: its CSV of 2018 and of today, with `_id`, and its
JSON) into typed `ScreeningEntry` rows, Federal Register citations in their
several styles (`citations`), the supplement tables of a rule's Federal Register
XML (`frxml`), the named entities of a rule (`entities`: `extras["entities"]`),
and the list as a source of items (`diff`: snapshot against snapshot, each
addition, removal and change an item), and which recent rules still lack their
names (`pending`: read without loading the rest). Everything here is pure; fetching goes
through bot.ingest.fetch (bot/ingest/screening/source.py strings them together).
"""
