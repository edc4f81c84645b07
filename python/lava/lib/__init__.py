"""Helpers for lava jobs."""
