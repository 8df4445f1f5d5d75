"""xaa-broker: a Cross-App Access (SEP-990 / ID-JAG) token broker for MCP deployments."""

__version__ = "0.1.0"
__all__ = ["__version__"]
