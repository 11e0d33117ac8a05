"""Recorded feeds that `briefbot demo` serves on loopback."""
