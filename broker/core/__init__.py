"""Pure protocol logic: no litestar, redis or httpx imports (STYLE P1)."""
