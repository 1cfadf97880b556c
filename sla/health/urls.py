"""URLs of the shop health pages (mounted at ``/sla/health/``)."""

from django.urls import path

from sla.health import views

__all__ = ["urlpatterns"]

urlpatterns = [
    path("", views.health_index, name="health"),
    path("<slug:code>/", views.health_detail, name="health_detail"),
    path("<slug:code>/refresh/", views.health_refresh, name="health_refresh"),
    path("<slug:code>/summary/", views.health_summary, name="health_summary"),
]
