"""URLs of the incident page's conversations (under ``/incidents/<pk>/``)."""

from django.urls import path

from messaging import views

app_name = "messaging"

urlpatterns = [
    path(
        "incidents/<int:incident_pk>/threads/<int:thread_pk>/reply/",
        views.thread_reply,
        name="reply",
    ),
    path(
        "incidents/<int:incident_pk>/threads/<int:thread_pk>/no-reply/",
        views.thread_no_reply,
        name="no_reply",
    ),
    path("incidents/<int:incident_pk>/threads/new/", views.new_thread, name="new_thread"),
    path(
        "incidents/<int:incident_pk>/outbox/<int:outbound_pk>/retry/",
        views.outbound_retry,
        name="retry",
    ),
    path("incidents/<int:incident_pk>/lint/", views.reply_lint_view, name="lint"),
    path("incidents/<int:incident_pk>/canned/", views.canned_reply_fill, name="canned"),
    path(
        "incidents/<int:incident_pk>/conversations/",
        views.conversations_poll,
        name="poll",
    ),
    path(
        "incidents/<int:incident_pk>/attachments/<str:attachment_id>/",
        views.attachment_download,
        name="attachment",
    ),
]
