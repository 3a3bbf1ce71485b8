"""Readers of real pose datasets (JTA)."""
