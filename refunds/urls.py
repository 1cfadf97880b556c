"""URLs of the refund pages (under ``/refunds/``): the panel and the refund forms under
an incident (``refunds:full``) or an order (``refunds:order_full``), approvals."""

from django.urls import path

from refunds import views

app_name = "refunds"

urlpatterns = [
    path("approvals/", views.refund_approvals, name="approvals"),
    path("incidents/<int:incident_pk>/", views.refunds_panel, name="panel"),
    path("incidents/<int:incident_pk>/full/", views.refund_full, name="full"),
    path("incidents/<int:incident_pk>/partial/", views.refund_partial, name="partial"),
    path("orders/<int:order_pk>/", views.refunds_panel, name="order_panel"),
    path("orders/<int:order_pk>/full/", views.refund_full, name="order_full"),
    path("orders/<int:order_pk>/partial/", views.refund_partial, name="order_partial"),
    path("requests/<int:pk>/approve/", views.refund_approve, name="approve"),
    path("requests/<int:pk>/reject/", views.refund_reject, name="reject"),
]
