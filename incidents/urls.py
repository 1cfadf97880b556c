from django.urls import path

from incidents import views

app_name = "incidents"

urlpatterns = [
    path("incidents/<int:pk>/assign/", views.incident_assign_view, name="assign"),
    path("incidents/<int:pk>/notes/", views.incident_note_view, name="note"),
    path("incidents/<int:pk>/resolve/", views.incident_resolve_view, name="resolve"),
    path("audit/export.csv", views.audit_export, name="audit_export"),
    path(
        "incidents/order/<slug:connection>/<str:order_id>/",
        views.incident_by_order,
        name="by_order",
    ),
]
