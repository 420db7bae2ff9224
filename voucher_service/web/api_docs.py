"""The interactive API documentation: Swagger UI from the vendored files in static/, started
by a static script, so that the pages' CSP (scripts and styles from this site only) holds."""

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from voucher_service.web.rendering import templates

router = APIRouter(include_in_schema=False)


@router.get("/docs", response_class=HTMLResponse)
async def api_docs(request: Request) -> HTMLResponse:
    return templates.TemplateResponse(request, "api_docs.html", {"spec_url": "/openapi.json"})
