"""Root URL configuration. Every page needs a login (LoginRequiredMiddleware)."""

from csp.decorators import csp_replace
from django.contrib import admin
from django.contrib.auth.decorators import login_not_required, login_required
from django.contrib.auth.views import LogoutView
from django.urls import include, path
from django.views.decorators.cache import cache_control
from django.views.i18n import set_language
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from core import auth_views
from core import views as core_views

admin.site.login_form = auth_views.ThrottledAdminAuthenticationForm

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/login/", auth_views.ThrottledLoginView.as_view(), name="login"),
    path("accounts/logout/", LogoutView.as_view(), name="logout"),
    path(
        "accounts/logout-everywhere/",
        auth_views.logout_everywhere,
        name="logout_everywhere",
    ),
    path("api/v1/", include("config.api_urls")),
    path(
        "api/schema/",
        login_not_required(cache_control(no_store=True)(SpectacularAPIView.as_view())),
        name="api-schema",
    ),
    path(
        "api/docs/",
        # Swagger UI's page has one inline <style> block; scripts stay 'self' only.
        csp_replace({"style-src": ["'self'", "'unsafe-inline'"]})(
            login_required(SpectacularSwaggerSplitView.as_view(url_name="api-schema"))
        ),
        name="api-docs",
    ),
    # The language switch works before logging in too (the login page has it).
    path("i18n/setlang/", login_not_required(set_language), name="set_language"),
    # Browsers ask for /favicon.ico on pages that do not name their icon (the admin's).
    path("favicon.ico", core_views.favicon, name="favicon"),
    path("sla/", include("sla.urls")),
    path("notifications/", include("sla.urls_notifications")),
    path("refunds/", include("refunds.urls")),
    path("documents/", include("documents.urls")),
    path("", include("desk.urls")),
    path("", include("incidents.urls")),
    path("", include("messaging.urls")),
]
