"""API routes of the SLA app."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from sla.api import views

__all__ = ["urlpatterns"]

router = SimpleRouter()
router.register("sla/breaches", views.SlaBreachViewSet, basename="sla-breach")

urlpatterns = [
    path("sla/kpis/", views.SlaKpiView.as_view(), name="sla-kpis"),
    path("sla/health/", views.ShopHealthListView.as_view(), name="sla-health"),
    path("sla/health/<slug:code>/", views.ShopHealthDetailView.as_view(), name="sla-health-detail"),
    path(
        "sla/health/<slug:code>/balance/",
        views.ShopBalanceView.as_view(),
        name="sla-health-balance",
    ),
    *router.urls,
]
