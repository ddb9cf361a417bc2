"""REST plumbing shared by the venues: one aiohttp session and one token bucket per venue,
HTTP answers turned into exceptions in one place (:func:`check_response`), retries decided by
:func:`~schemahub.venues.backoff.decide_retry`.

A venue subclasses :class:`RestVenue` (limits as data, a hook for error replies inside a 200
body, a hook for usage headers) and implements ``fetch_trades`` and ``fetch_catalogue`` on top of
:meth:`RestClient.get_json` and :meth:`RestClient.get_page`.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import os
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

import aiohttp
import orjson

from schemahub.decode import decoder_for
from schemahub.decode.base import DecodedFrame, FrameKind, NativeRecord
from schemahub.errors import (
    HistoryUnavailableError,
    IpBannedError,
    RateLimitedError,
    RestError,
    TransientRestError,
)
from schemahub.logs import RateLimitedLog
from schemahub.venues.backoff import RetryPolicy, decide_retry
from schemahub.venues.catalog import Catalogue
from schemahub.venues.history import trade_id, trade_seconds
from schemahub.venues.ratelimit import TokenBucket

log = logging.getLogger(__name__)

BAN_DEFAULT_SECONDS = 120.0  # Binance bans last from 2 minutes up; when it does not say
EXCERPT = 200
DEFAULT_REST_RETRY = RetryPolicy(base_seconds=0.5, cap_seconds=30.0, max_attempts=6)


class RestDecoder(Protocol):
    """The part of a venue decoder the REST clients use."""

    def decode_rest_trades(self, body: str | bytes, symbol: str) -> DecodedFrame: ...


@dataclass(frozen=True, slots=True)
class RestResponse:
    """A successful answer: its text, the parsed JSON, and its headers."""

    status: int
    text: str
    data: Any
    headers: Mapping[str, str]


def check_response(venue: str, url: str, status: int, headers: Mapping[str, str], text: str) -> Any:
    """The JSON value of a good answer; otherwise the one exception that this status (or body)
    means. The only place where HTTP statuses become exceptions."""
    where = f"{venue} {url}"
    if status == 429:
        wait = retry_after_seconds(headers)
        raise RateLimitedError(f"{where}: HTTP 429 too many requests (retry after {wait}s)", wait)
    if status == 418:
        wait = retry_after_seconds(headers) or BAN_DEFAULT_SECONDS
        raise IpBannedError(
            f"{where}: HTTP 418, the venue banned this IP address for {wait:.0f}s after earlier "
            "rate-limit violations; no requests are sent until then",
            wait,
        )
    if status == 451:
        raise RestError(
            f"{where}: HTTP 451, the venue refuses service from this region; use an endpoint "
            "this location may reach (for example Binance's data-api mirror) or another region"
        )
    if status >= 500:
        raise TransientRestError(f"{where}: HTTP {status}: {excerpt(text)}")
    if status >= 400:
        raise RestError(f"{where}: HTTP {status}: {excerpt(text)}")
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        raise TransientRestError(
            f"{where}: HTTP {status} with a body that is not JSON: {excerpt(text)}"
        ) from None


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """``Retry-After`` in seconds (it may be a number of seconds or an HTTP date), or None."""
    raw = headers.get("Retry-After")
    if raw is None:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def excerpt(text: str) -> str:
    """The start of a body, on one line, for an error message."""
    flat = " ".join(text.split())
    return flat if len(flat) <= EXCERPT else flat[:EXCERPT] + "..."


class RestVenue:
    """A venue's REST limits as data, plus hooks; one instance per venue client."""

    name: ClassVar[str]
    # Token bucket in the venue's cost units (Binance: request weight; others: requests).
    rate_per_second: ClassVar[float]
    burst: ClassVar[float]
    # Cost of one history page, and what ``rest_requests_per_second`` counts.
    history_cost: ClassVar[float] = 1.0

    # Environment variable holding an API key the venue's public endpoints accept for higher
    # limits (sent as ``api_key_header``); None where public market data takes no key.
    api_key_env: ClassVar[str | None] = None
    api_key_header: ClassVar[str | None] = None

    def body_error(self, data: Any, where: str) -> RestError | None:
        """An error the venue reported inside a 200 body (Kraken's ``error`` list)."""
        return None

    def key_headers(self, environ: Mapping[str, str] | None = None) -> dict[str, str]:
        """The API-key header when the venue takes one and the environment holds it (never
        required, never logged: it lives only in the session's default headers)."""
        environ = os.environ if environ is None else environ
        key = environ.get(self.api_key_env or "", "").strip()
        if not key or self.api_key_header is None:
            return {}
        return {self.api_key_header: key}

    def after_response(self, headers: Mapping[str, str], limiter: TokenBucket) -> None:
        """Read usage headers (Binance ``X-MBX-USED-WEIGHT-1M``) and slow down if needed."""

    def limiter(self, requests_per_second: float | None = None) -> TokenBucket:
        """This venue's bucket; ``requests_per_second`` (history requests) overrides the rate."""
        if requests_per_second is None:
            return TokenBucket(self.rate_per_second, self.burst)
        # Configured explicitly: that many history requests a second, no bursts.
        return TokenBucket(requests_per_second * self.history_cost, self.history_cost)


class RestClient:
    """GET requests to one venue, paced, retried, mapped to exceptions. Use ``async with`` or
    call :meth:`close`. The aiohttp session is created on first use (inside the loop)."""

    def __init__(
        self,
        venue: RestVenue,
        base_url: str,
        *,
        limiter: TokenBucket | None = None,
        retry: RetryPolicy = DEFAULT_REST_RETRY,
        timeout_seconds: float = 15.0,
    ) -> None:
        self.venue = venue
        self.base_url = base_url.rstrip("/")
        self.limiter = limiter or venue.limiter()
        self.retry = retry
        self.requests = 0
        self.retries = 0
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._session: aiohttp.ClientSession | None = None
        self._warn = RateLimitedLog(log)

    async def __aenter__(self) -> RestClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the HTTP session."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def get_json(self, path: str, params: Mapping[str, Any], cost: float = 1.0) -> Any:
        """GET ``path`` and return its JSON, retrying what :func:`decide_retry` allows."""
        return (await self._with_retries(path, params, cost, None)).response.data

    async def get_page(
        self, path: str, params: Mapping[str, Any], cost: float, decoder: RestDecoder, symbol: str
    ) -> tuple[DecodedFrame, RestResponse]:
        """GET a page of trades and decode it; a page the decoder cannot read is retried."""
        outcome = await self._with_retries(path, params, cost, (decoder, symbol))
        assert outcome.page is not None
        return outcome.page, outcome.response

    async def _with_retries(
        self,
        path: str,
        params: Mapping[str, Any],
        cost: float,
        decode: tuple[RestDecoder, str] | None,
    ) -> _Outcome:
        attempt = 0
        while True:
            await self.limiter.acquire(cost)
            try:
                return await self._get_once(path, params, decode)
            except RestError as exc:
                decision = decide_retry(exc, attempt, self.retry)
                if isinstance(exc, RateLimitedError):
                    wait = exc.retry_after if exc.retry_after is not None else decision.delay
                    self.limiter.pause_until(time.monotonic() + wait)
                if not decision.retry:
                    raise
                self.retries += 1
                self._warn.warning(
                    f"rest-retry-{self.venue.name}",
                    "retrying REST request",
                    venue=self.venue.name,
                    path=path,
                    reason=decision.reason,
                    delay=round(decision.delay, 3),
                )
                await asyncio.sleep(decision.delay)
                attempt += 1

    async def _get_once(
        self, path: str, params: Mapping[str, Any], decode: tuple[RestDecoder, str] | None
    ) -> _Outcome:
        url = f"{self.base_url}{path}"
        self.requests += 1
        try:
            async with self._http().get(url, params=_strings(params)) as answer:
                text = await answer.text(errors="replace")
                status, headers = answer.status, answer.headers
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TransientRestError(
                f"{self.venue.name} {url}: {type(exc).__name__}: {exc}"
            ) from exc
        self.venue.after_response(headers, self.limiter)
        data = check_response(self.venue.name, url, status, headers, text)
        error = self.venue.body_error(data, f"{self.venue.name} {url}")
        if error is not None:
            raise error
        response = RestResponse(status, text, data, headers)
        if decode is None:
            return _Outcome(response, None)
        decoder, symbol = decode
        page = decoder.decode_rest_trades(text, symbol)
        if page.kind is FrameKind.MALFORMED:
            reason = page.rejects[0].reason if page.rejects else "unreadable page"
            raise TransientRestError(f"{self.venue.name} {url}: page not understood: {reason}")
        return _Outcome(response, page)

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=self._timeout, trust_env=False, headers=self.venue.key_headers()
            )
        return self._session


@dataclass(frozen=True, slots=True)
class _Outcome:
    response: RestResponse
    page: DecodedFrame | None


def _strings(params: Mapping[str, Any]) -> dict[str, str]:
    return {k: str(v) for k, v in params.items() if v is not None}


class VenueHistory:
    """Base of each venue's REST history client: one RestClient (one aiohttp session, one
    bucket) and the venue's decoder. Subclasses set ``rest`` and add ``fetch_trades`` and
    ``fetch_catalogue``."""

    rest: ClassVar[type[RestVenue]]
    # The most trades one history request returns.
    page_limit: ClassVar[int] = 1000
    # About how many requests :meth:`oldest_trade_id` costs (None: too many to be worth it).
    oldest_probe_requests: ClassVar[int | None] = 32

    def __init__(
        self,
        base_url: str,
        requests_per_second: float | None = None,
        *,
        retry: RetryPolicy = DEFAULT_REST_RETRY,
        timeout_seconds: float = 15.0,
    ) -> None:
        venue = self.rest()
        self.venue = venue.name
        self.client = RestClient(
            venue,
            base_url,
            limiter=venue.limiter(requests_per_second),
            retry=retry,
            timeout_seconds=timeout_seconds,
        )
        self.decoder: RestDecoder = decoder_for(venue.name)

    async def __aenter__(self) -> VenueHistory:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Release the HTTP session."""
        await self.client.close()

    async def latest_trade_id(self, symbol: str) -> int | None:
        """The id of the newest trade the venue holds for ``symbol`` (None when it has none):
        one request, used to notice trades missed at the tail of a stream."""
        page = await self.latest_page(symbol)
        ids = [trade_id(record) for record in page.trades]
        return max(ids) if ids else None

    async def latest_page(self, symbol: str) -> DecodedFrame:
        """The venue's most recent trades of ``symbol`` (a small page)."""
        raise NotImplementedError

    async def first_id_since(self, symbol: str, since: float) -> int | None:
        """Where the venue's tape of ``symbol`` stands at time ``since`` (epoch seconds): the id
        of its first trade whose venue time is at or after ``since``, or newest + 1 when there
        is none yet; None when the venue holds no trade of ``symbol`` at all. When its history
        no longer reaches back to ``since`` (the oldest trade held is already at or after it),
        the oldest id it holds: the trades before that are gone from the venue.

        The newest id is read first, so a trade arriving during the search is never skipped.
        Then pages walk back from the newest (:meth:`older_trades`) until a trade older than
        ``since`` appears: about (trades since ``since``) / ``page_limit`` + 1 requests."""
        newest = await self.latest_trade_id(symbol)
        if newest is None:
            return None
        first = newest + 1  # the lowest id known to be at or after `since` (or newest + 1)
        while page := await self.older_trades(symbol, first, self.page_limit):
            for record in page:  # newest first
                if trade_seconds(self.venue, record) < since:
                    return trade_id(record) + 1
                first = trade_id(record)
        return first

    def history_requests_per_second(self) -> float:
        """How many history requests a second this client's limiter lets through."""
        return self.client.limiter.rate / self.client.venue.history_cost

    async def older_trades(self, symbol: str, before_id: int, limit: int) -> list[NativeRecord]:
        """Up to ``limit`` trades of ``symbol`` just below ``before_id`` (ids < before_id),
        newest first; an empty list when the venue holds nothing older."""
        lo = max(0, before_id - limit)
        return sorted(await self._collect(symbol, lo, before_id - 1), key=trade_id, reverse=True)

    async def newer_trades(self, symbol: str, after_id: int, last_id: int) -> list[NativeRecord]:
        """The trades of ``symbol`` with ids ``after_id+1..last_id`` (``last_id`` held by the
        venue, e.g. from :meth:`latest_trade_id`), oldest first."""
        if last_id <= after_id:
            return []
        return sorted(await self._collect(symbol, after_id + 1, last_id), key=trade_id)

    async def oldest_trade_id(self, symbol: str, newest: int) -> int | None:
        """The oldest id the venue still serves for ``symbol`` (None when it holds none).

        Probes of one trade each: steps down from ``newest`` by a page, two pages, four, ...
        until nothing is held below, bisects the last step down to a page, and reads that
        page: about 2 * log2(depth / page) + 2 requests."""
        if not await self._holds_at_or_below(symbol, newest):
            return None
        hi, lo, step = newest, 0, self.page_limit  # the oldest held id is in lo..hi
        while hi > 0:
            probe = max(0, hi - step)
            if not await self._holds_at_or_below(symbol, probe):
                lo = probe + 1
                break
            hi, step = probe, step * 2
        while hi - lo >= self.page_limit:
            middle = (lo + hi) // 2
            if await self._holds_at_or_below(symbol, middle):
                hi = middle
            else:
                lo = middle + 1
        page = await self.older_trades(symbol, hi + 1, self.page_limit)
        return min((trade_id(t) for t in page), default=hi)

    async def _holds_at_or_below(self, symbol: str, tid: int) -> bool:
        return bool(await self.older_trades(symbol, tid + 1, 1))

    async def _collect(self, symbol: str, first: int, last: int) -> list[NativeRecord]:
        """Every trade of ``first..last`` the venue serves (the range may run past its oldest
        trade: what it holds is kept)."""
        out: list[NativeRecord] = []
        try:
            async for page in self.fetch_trades(symbol, first, last):  # type: ignore[attr-defined]
                out.extend(page.trades)
        except HistoryUnavailableError:
            pass
        return out


class HistoryClient(Protocol):
    """What every venue's REST client offers (the gap filler and the daemon call these)."""

    def fetch_trades(
        self, symbol: str, first_id: int, last_id: int, *, since_hint: float | None = None
    ) -> AsyncIterator[DecodedFrame]:
        """Pages of the trades of ``symbol`` with ids ``first_id..last_id`` (inclusive)."""
        ...

    async def fetch_catalogue(self) -> Catalogue:
        """The symbols the venue lists."""
        ...

    async def latest_trade_id(self, symbol: str) -> int | None:
        """The id of the newest trade of ``symbol`` the venue holds."""
        ...

    async def first_id_since(self, symbol: str, since: float) -> int | None:
        """The id of the first trade of ``symbol`` at or after epoch seconds ``since`` (newest
        + 1 when none yet, the oldest held when history starts later, None when none held)."""
        ...

    async def close(self) -> None:
        """Release the HTTP session."""
        ...
