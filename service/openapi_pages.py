"""The OpenAPI pages the app serves (/schema/openapi.json, .yaml, /schema/swagger): each renders the completed
document (service/openapi.py), so what the UI shows is what `make openapi` commits."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from litestar import Request
from litestar.openapi.plugins import JsonRenderPlugin, SwaggerRenderPlugin, YamlRenderPlugin
from litestar.static_files import create_static_files_router

from service.openapi import complete


class _Completed:
    """Render the completed document: the pages show what `make openapi` exports."""

    def render(self, request: Request, openapi_schema: dict[str, Any]) -> bytes:
        # Litestar caches the schema per app: the first page completes it in place, later ones find nothing to do.
        return super().render(request, complete(request.app, openapi_schema))  # type: ignore[misc]


class CompletedJson(_Completed, JsonRenderPlugin):
    pass


class CompletedYaml(_Completed, YamlRenderPlugin):
    pass


def _swagger_ui_assets() -> Path:
    # swagger-ui-py ships Swagger UI's release files; only its static folder is used.
    import swagger_ui.utils

    return swagger_ui.utils.SWAGGER_UI_PY_ROOT / "static"


class SelfHostedSwagger(_Completed, SwaggerRenderPlugin):
    """Swagger UI served from the app itself: the page works offline and where public CDNs are slow or
    blocked (mainland China, CI machines)."""

    def __init__(self, docs_path: str = "/schema") -> None:
        assets = f"{docs_path}/swagger-ui"
        super().__init__(
            js_url=f"{assets}/swagger-ui-bundle.js",
            css_url=f"{assets}/swagger-ui.css",
            standalone_preset_js_url=f"{assets}/swagger-ui-standalone-preset.js",
            favicon=f"<link rel='icon' type='image/png' href='{assets}/favicon-32x32.png'>",
            path="/swagger",
        )

    def receive_router(self, router) -> None:
        super().receive_router(router)
        router.register(create_static_files_router(path="/swagger-ui", directories=[_swagger_ui_assets()]))
