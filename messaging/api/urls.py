"""API routes of the messaging app."""

from django.urls import re_path
from rest_framework.routers import SimpleRouter

from messaging.api import views

__all__ = ["urlpatterns"]

router = SimpleRouter()
router.register("threads", views.ThreadViewSet, basename="thread")

urlpatterns = [
    re_path(
        r"^orders/(?P<order_id>[^/\x00]+)/threads/$",
        views.OrderThreadCreateView.as_view(),
        name="order-thread-create",
    ),
    *router.urls,
]
