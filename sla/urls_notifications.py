"""URLs of the in-app notifications (mounted at ``/notifications/``)."""

from django.urls import path

from sla import views

app_name = "notifications"

urlpatterns = [
    path("", views.notification_list, name="list"),
    path("bell/", views.notification_bell, name="bell"),
]
