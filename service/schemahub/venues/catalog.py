"""Symbol catalogues: which symbols a venue lists, and the names each of its APIs uses.

Each venue module parses its listing (Binance ``exchangeInfo``, Coinbase ``/products``, Kraken
``AssetPairs``) into a :class:`Catalogue`. :meth:`Catalogue.resolve` checks the configured
symbols at startup: one the venue does not list is an :class:`UnknownSymbolError` naming it and
the closest names it does list.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from schemahub.errors import UnknownSymbolError

SUGGESTIONS = 3


@dataclass(frozen=True, slots=True)
class Listing:
    """One listed symbol: its websocket name (the stream's symbol in our tables) and the name
    the venue's REST history wants (the same on Binance and Coinbase; Kraken's ``altname``)."""

    symbol: str
    rest_name: str
    base: str = ""
    quote: str = ""
    trading: bool = True


class Catalogue:
    """The symbols one venue lists, keyed by websocket name, with aliases (e.g. ``XBT/USD``)."""

    def __init__(
        self, venue: str, listings: Iterable[Listing], aliases: Mapping[str, str] | None = None
    ) -> None:
        self.venue = venue
        self._by_symbol = {item.symbol: item for item in listings}
        self._aliases = {k: v for k, v in (aliases or {}).items() if v in self._by_symbol}

    def __len__(self) -> int:
        return len(self._by_symbol)

    def __contains__(self, symbol: object) -> bool:
        return isinstance(symbol, str) and self._canonical(symbol) is not None

    def listings(self) -> list[Listing]:
        """Every listing, in the venue's order."""
        return list(self._by_symbol.values())

    def get(self, symbol: str) -> Listing:
        """The listing of ``symbol`` (or of an alias of it); UnknownSymbolError otherwise."""
        canonical = self._canonical(symbol)
        if canonical is None:
            raise UnknownSymbolError(self._unknown_message([symbol]))
        return self._by_symbol[canonical]

    def resolve(self, symbols: Iterable[str]) -> list[Listing]:
        """The listings of every configured symbol, in order; raises one UnknownSymbolError
        naming all the symbols that are not listed, each with its closest listed names."""
        wanted = list(symbols)
        missing = [s for s in wanted if self._canonical(s) is None]
        if missing:
            raise UnknownSymbolError(self._unknown_message(missing))
        return [self._by_symbol[c] for s in wanted if (c := self._canonical(s)) is not None]

    def suggestions(self, symbol: str) -> list[str]:
        """The listed names closest to ``symbol`` (case and separators ignored)."""
        keys = {_fold(name): name for name in self._by_symbol}
        keys.update({_fold(alias): alias for alias in self._aliases})
        close = difflib.get_close_matches(_fold(symbol), list(keys), n=SUGGESTIONS, cutoff=0.5)
        return [keys[k] for k in close]

    def _canonical(self, symbol: str) -> str | None:
        if symbol in self._by_symbol:
            return symbol
        return self._aliases.get(symbol)

    def _unknown_message(self, missing: list[str]) -> str:
        parts = []
        for symbol in missing:
            close = self.suggestions(symbol)
            hint = f" (closest listed: {', '.join(close)})" if close else " (nothing close)"
            parts.append(f"'{symbol}'{hint}")
        noun = "symbol" if len(missing) == 1 else "symbols"
        return (
            f"{self.venue} does not list the configured {noun} {'; '.join(parts)}; "
            f"expected names as the {self.venue} websocket spells them"
        )


def _fold(name: str) -> str:
    """Case and separators do not matter for suggestions: btc_usd ~ BTC-USD ~ BTC/USD."""
    return "".join(ch for ch in name.upper() if ch.isalnum())
