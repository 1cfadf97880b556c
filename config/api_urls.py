"""The REST API, version 1: ``/api/v1/`` (see README, "REST API")."""

from django.urls import include, path

__all__ = ["urlpatterns"]

app_name = "api"

urlpatterns = [
    path("", include("desk.api.urls")),
    path("", include("messaging.api.urls")),
    path("", include("refunds.api.urls")),
    path("", include("sla.api.urls")),
]
