"""The package version, sent in the User-Agent (a test keeps it equal to pyproject.toml's)."""

SDK_VERSION = "0.1.0"
