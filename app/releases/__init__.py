"""Releases: a closed wave's figures, suppressed once, frozen, and read by every channel."""
