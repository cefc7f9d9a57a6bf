"""Configuration: the typed models and the loader that validates a YAML file into them."""

from agent.config.loader import load_config, parse_config
from agent.config.models import Config

__all__ = ["Config", "load_config", "parse_config"]
