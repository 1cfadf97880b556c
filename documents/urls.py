"""URLs of the order documents (under ``/documents/``)."""

from django.urls import path

from documents import views

app_name = "documents"

urlpatterns = [
    path("orders/<int:order_pk>/", views.documents_panel, name="panel"),
    path("orders/<int:order_pk>/upload/", views.document_upload, name="upload"),
    path(
        "orders/<int:order_pk>/<str:document_id>/download/",
        views.document_download,
        name="download",
    ),
]
