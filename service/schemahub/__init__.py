"""SchemaHub: venue trade feeds normalized into one exactly-once Apache Iceberg tick history."""

__version__ = "0.1.0"
