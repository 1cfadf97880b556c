"""API routes of the SLA app."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from sla.api import views

__all__ = ["urlpatterns"]

router = SimpleRouter()
router.register("sla/breaches", views.SlaBreachViewSet, basename="sla-breach")

urlpatterns = [
    path("sla/kpis/", views.SlaKpiView.as_view(), name="sla-kpis"),
    *router.urls,
]
