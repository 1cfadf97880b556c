"""API routes of the incidents app."""

from rest_framework.routers import SimpleRouter

from incidents.api import views

__all__ = ["urlpatterns"]

router = SimpleRouter()
router.register("marketplaces", views.MarketplaceConnectionViewSet, basename="marketplace")
router.register("incidents", views.IncidentViewSet, basename="incident")
router.register("orders", views.OrderViewSet, basename="order")

urlpatterns = router.urls
