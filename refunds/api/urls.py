"""API routes of the refunds app."""

from rest_framework.routers import SimpleRouter

from refunds.api import views

__all__ = ["urlpatterns"]

router = SimpleRouter()
router.register("refunds", views.RefundViewSet, basename="refund")
router.register("refund-requests", views.RefundRequestViewSet, basename="refund-request")

urlpatterns = router.urls
