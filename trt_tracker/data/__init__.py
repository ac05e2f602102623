"""Synthetic data (body RGB, hand depth), the on-disk sequence format, and the MSRA15 reader."""
