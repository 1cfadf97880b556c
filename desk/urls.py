"""URLs of the pages that compose several apps (mounted at the site's root)."""

from django.urls import path

from desk import views

app_name = "desk"

urlpatterns = [
    path("", views.overview, name="overview"),
    path("incidents/", views.inbox, name="inbox"),
    path("incidents/bulk/", views.queue_bulk, name="bulk"),
    path("incidents/<int:pk>/", views.incident_detail, name="incident"),
    path("orders/<int:order_pk>/history/", views.order_history, name="order_history"),
    path("orders/<int:pk>/", views.order_detail, name="order"),
]
