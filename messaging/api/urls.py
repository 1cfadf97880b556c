"""API routes of the messaging app."""

from rest_framework.routers import SimpleRouter

from messaging.api import views

__all__ = ["urlpatterns"]

router = SimpleRouter()
router.register("threads", views.ThreadViewSet, basename="thread")

urlpatterns = router.urls
