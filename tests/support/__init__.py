"""Builders, fakes and helpers that several test modules share (imported, never collected)."""
