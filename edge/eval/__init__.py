"""Evaluation tools: simulated keypoint sequences and real-video datasets for the use cases."""
