"""The framework ceiling for the benchmark: a Litestar POST that reads the form and answers JSON."""

from typing import Any

from litestar import Litestar, Request, post


@post("/noop", status_code=200)
async def noop(request: Request[Any, Any, Any]) -> dict[str, str]:
    """Parse the body as the token endpoint does, do nothing else."""
    await request.form()
    return {"ok": "yes"}


app = Litestar([noop])
