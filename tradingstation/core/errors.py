"""Errors a user can act on. Each names the problem in its message."""


class TradingStationError(Exception):
    """Base class of every error TradingStation raises on purpose."""


class InvalidSymbolError(TradingStationError, ValueError):
    """A ticker symbol that is empty, too long, or carries characters no exchange uses."""


class NotASessionError(TradingStationError, ValueError):
    """A date or partition key that is not an NYSE trading session."""


class UnknownDatasetError(TradingStationError, KeyError):
    """A dataset name the lake does not know."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0]) if self.args else ""


class LakeConfigError(TradingStationError, ValueError):
    """A lake root, scheme or credential that cannot work."""


class LakeUnreachableError(TradingStationError, ConnectionError):
    """The lake's storage could not be reached."""


class SourceLimitError(TradingStationError, ValueError):
    """A request a market-data source cannot serve (e.g. Yahoo's intraday history limits)."""


class SchemaError(TradingStationError, ValueError):
    """A frame that does not have the columns or types of its dataset's contract."""


class SourceConfigError(TradingStationError, ValueError):
    """A market-data source that cannot work as configured (a files path that does not exist, a
    source name that is unknown): an error, never "no data"."""
