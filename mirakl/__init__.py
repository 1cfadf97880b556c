"""Mirakl shop (seller) API: client, pydantic schemas and typed errors.

A plain Python package (no Django): ``from mirakl import MiraklClient, MiraklError``.
"""

from mirakl.client import MiraklClient
from mirakl.errors import (
    MiraklAuthError,
    MiraklBadRequest,
    MiraklError,
    MiraklNotFound,
    MiraklPayloadError,
    MiraklRateLimited,
    MiraklTransientError,
)

__all__ = [
    "MiraklAuthError",
    "MiraklBadRequest",
    "MiraklClient",
    "MiraklError",
    "MiraklNotFound",
    "MiraklPayloadError",
    "MiraklRateLimited",
    "MiraklTransientError",
]
