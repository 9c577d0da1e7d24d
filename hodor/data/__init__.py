"""Datasets: catalog, readers, pseudo-clips, video clips, batching and synthetic data generators."""
