"""The one exception hierarchy of SchemaHub.

Every error we raise on purpose descends from :class:`SchemaHubError`, so the CLI can turn any
of them into one clear line and a non-zero exit, and library users can catch them in one place::

    SchemaHubError
    ├── ConfigError            the config file or an environment override is invalid
    ├── MappingError           a YAML mapping cannot be compiled (names the file and the key)
    ├── DecodeError            a frame or REST page is not what the venue protocol promises
    ├── CaptureError           a capture file is unreadable or of the wrong venue
    ├── LakeError              the catalog or warehouse failed
    │   ├── CommitConflictError  another writer committed first; refresh and retry
    │   └── OffsetsError         stored stream offsets are corrupt or of an unknown version
    ├── VenueError             a venue refused or broke the protocol
    │   ├── SubscriptionError    a subscription was rejected (names the symbol)
    │   ├── StaleConnectionError a websocket went silent or never acknowledged: reconnect
    │   ├── UnknownSymbolError   a configured symbol is not listed by the venue
    │   └── RestError            a REST call failed for good
    │       ├── RateLimitedError   the venue asked us to back off (429/418, Kraken EGeneral)
    │       │   └── IpBannedError    Binance 418: banned for a while, do not retry soon
    │       ├── TransientRestError a 5xx, timeout or non-JSON body: worth retrying
    │       └── HistoryUnavailableError  the venue no longer holds the requested ids
    ├── StorageError           S3 or a local folder refused (bucket, credentials, endpoint)
    │   └── CheckpointError      a stored checkpoint is corrupt or truncated (names its path)
    ├── UsageError             a command was called with arguments that cannot work
    └── FeedError              the live discrepancy feed could not be read (CLI client)
"""

from __future__ import annotations


class SchemaHubError(Exception):
    """Base of every error SchemaHub raises on purpose."""


class ConfigError(SchemaHubError):
    """The configuration is invalid: the message names the key and what was expected."""


class MappingError(SchemaHubError):
    """A mapping file cannot be compiled: the message names the file and the key."""


class DecodeError(SchemaHubError):
    """A frame or a REST page does not have the shape the venue protocol promises."""


class CaptureError(SchemaHubError):
    """A capture file cannot be used (unreadable, empty, or recorded from another venue)."""


class LakeError(SchemaHubError):
    """The Iceberg catalog or the warehouse failed."""


class CommitConflictError(LakeError):
    """Another writer committed to the table first; the commit can be retried."""


class OffsetsError(LakeError, ValueError):
    """Stream offsets (from a snapshot property or given to the sequencer) are not valid."""


class VenueError(SchemaHubError):
    """A venue refused a request or broke its protocol."""


class SubscriptionError(VenueError):
    """The venue rejected a subscription."""


class StaleConnectionError(VenueError):
    """A websocket went silent, or never acknowledged its subscriptions; it is replaced."""


class WebSocketError(VenueError):
    """A venue's websocket could not be opened, or ended."""


class HandshakeError(WebSocketError):
    """The venue did not upgrade the connection to a websocket; ``status`` is its HTTP status
    when it answered with one."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class WebSocketClosed(WebSocketError):
    """The websocket ended: closed by the venue or by us (``code`` and ``reason`` of the close
    frame, 1006 when the connection dropped without one)."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"code {code}" + (f": {reason}" if reason else ""))
        self.code = code
        self.reason = reason

    @property
    def clean(self) -> bool:
        """Closed normally (1000, or a close frame without a code: 1005) or because an end
        went away (1001)."""
        return self.code in (1000, 1001, 1005)


class UnknownSymbolError(VenueError):
    """A configured symbol is not listed by the venue."""


class RestError(VenueError):
    """A REST request failed after all retries."""


class RateLimitedError(RestError):
    """The venue asked us to back off; ``retry_after`` is in seconds when the venue said."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class IpBannedError(RateLimitedError):
    """The venue banned our address for a while (Binance HTTP 418); retrying soon makes it worse."""


class TransientRestError(RestError):
    """A failure that may pass on retry: HTTP 5xx, a timeout, a body that is not JSON."""


class HistoryUnavailableError(RestError):
    """The venue no longer serves the requested trade ids."""


class StorageError(SchemaHubError):
    """S3 or a local folder refused a read or a write: the message names which and why."""


class CheckpointError(StorageError):
    """A checkpoint exists but cannot be read: never silently treated as "start over"."""


class UsageError(SchemaHubError):
    """A command was called with arguments that cannot work."""


class FeedError(SchemaHubError):
    """The daemon's live discrepancy feed could not be reached or refused the request."""
