"""The live cross-venue discrepancy feed: tracker (state), updates, fan-out, HTTP endpoints."""

from schemahub.discrepancy.feed import Client, Feed
from schemahub.discrepancy.tracker import Tracker
from schemahub.discrepancy.update import build_update

__all__ = ["Client", "Feed", "Tracker", "build_update"]
