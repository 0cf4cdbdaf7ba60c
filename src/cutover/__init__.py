"""cutover: cut a live business system over to a new one without stopping the business."""

from __future__ import annotations

__version__ = "0.1.0"
