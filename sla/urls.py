"""URLs of the account managers' SLA review and shop health (mounted at ``/sla/``)."""

from django.urls import include, path

from sla import views

app_name = "sla"

urlpatterns = [
    path("", views.review, name="review"),
    path("breaches.csv", views.breaches_csv, name="breaches_csv"),
    path("kpis.csv", views.kpis_csv, name="kpis_csv"),
    path("health/", include("sla.health.urls")),
]
