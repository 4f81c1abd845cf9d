"""Tests that drive the real app in headless Chromium: see conftest.py for the fixtures and helpers."""
