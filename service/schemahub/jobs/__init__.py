"""Batch jobs over the lake: landing captures into raw tables, and unify."""
