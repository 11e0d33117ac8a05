"""The embedded backend: TinyDB files in one locked data directory."""
