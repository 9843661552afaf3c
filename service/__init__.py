"""Backend of a WeChat Mini Program for community marketing."""

__version__ = "0.1.0"
