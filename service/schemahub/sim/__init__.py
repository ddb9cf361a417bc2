"""Offline venue simulator: Binance-, Coinbase- and Kraken-compatible endpoints on 127.0.0.1.

    async with Simulator(SimConfig(symbols=("BTC", "ETH"), seed=1)) as sim:
        sim.ws_url("binance"), sim.rest_url("kraken")
        overrides = sim_venue_overrides(sim)  # merge into the config's ``venues``
        ...
        truth = sim.ground_truth()  # every generated trade, unified form
        stats = sim.stats()  # what the fault injector did, REST peaks, 429s served

Module map: ``tape`` (pure trade generator), ``markets`` (symbols per venue), ``fmt`` (exact
number/time text), ``faults`` (fault settings and stats), ``limits`` (server-side rate
limits), ``venue`` (shared server machinery), ``binance``/``coinbase``/``kraken`` (protocols),
``server`` (the Simulator).
"""

from schemahub.sim.faults import FAULT_PRESETS, FaultConfig, SimStats, faults_from_names
from schemahub.sim.server import SimConfig, Simulator, sim_venue_overrides, write_truth
from schemahub.sim.tape import GROUND_TRUTH_SCHEMA, Tape, Trade

__all__ = [
    "FAULT_PRESETS",
    "GROUND_TRUTH_SCHEMA",
    "FaultConfig",
    "SimConfig",
    "SimStats",
    "Simulator",
    "Tape",
    "Trade",
    "faults_from_names",
    "sim_venue_overrides",
    "write_truth",
]
