"""Sample multi-service MCP deployment that accepts only broker-issued tokens."""
