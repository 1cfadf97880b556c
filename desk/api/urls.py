"""API routes of marketplaces, incidents, orders and the queue."""

from django.urls import re_path
from rest_framework.routers import SimpleRouter

from desk.api import views

__all__ = ["urlpatterns"]

router = SimpleRouter()
router.register("marketplaces", views.MarketplaceConnectionViewSet, basename="marketplace")
router.register("incidents", views.IncidentViewSet, basename="incident")
router.register("orders", views.OrderViewSet, basename="order")
router.register("queue", views.QueueViewSet, basename="queue")

urlpatterns = [
    # Before the router: "bulk" is not an incident id.
    re_path(r"^incidents/bulk/$", views.IncidentBulkView.as_view(), name="incident-bulk"),
    re_path(
        r"^incidents/(?P<order_id>[^/\x00]+)/resolve/$",
        views.IncidentResolveView.as_view(),
        name="incident-resolve",
    ),
    *router.urls,
]
