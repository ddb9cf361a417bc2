"""What the command modules share: loading the config and opening the lake."""

from __future__ import annotations

import argparse
import logging

from schemahub.config import Config, load_config
from schemahub.lake import Lake


def config_from(args: argparse.Namespace) -> Config:
    """The validated config named by ``--config`` (or the default), with env overrides."""
    config = load_config(args.config)
    logging.getLogger().setLevel(args.log_level or config.log_level)
    return config


def lake_from(args: argparse.Namespace) -> tuple[Config, Lake]:
    """The config and the lake it names."""
    config = config_from(args)
    return config, Lake(config.lake, config.s3)
