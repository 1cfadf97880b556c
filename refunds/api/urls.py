"""API routes of the refunds app."""

from rest_framework.routers import SimpleRouter

from refunds.api import views

__all__ = ["urlpatterns"]

router = SimpleRouter()
router.register("refunds", views.RefundViewSet, basename="refund")

urlpatterns = router.urls
