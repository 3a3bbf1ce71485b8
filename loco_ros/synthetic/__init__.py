"""Synthetic training data: skeletons, random scenes, a fast numpy renderer and shards."""
