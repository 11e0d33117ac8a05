"""Conditional GETs of feeds within limits, behind the private-address guard (httpx lives here)."""
