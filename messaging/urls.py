"""URLs of the pages' conversations, under ``/incidents/<pk>/`` and ``/orders/<pk>/``.

Each action has both addresses (the same view): ``messaging:reply`` for the incident
page, ``messaging:order_reply`` for the order page. Templates build them with
``{% page_url "messaging:reply" ... %}``, which picks the page's own.
"""

from collections.abc import Callable

from django.http import HttpResponse
from django.urls import path

from messaging import views

app_name = "messaging"

_ACTIONS: list[tuple[str, Callable[..., HttpResponse], str]] = [
    ("threads/<int:thread_pk>/reply/", views.thread_reply, "reply"),
    ("threads/<int:thread_pk>/no-reply/", views.thread_no_reply, "no_reply"),
    ("threads/new/", views.new_thread, "new_thread"),
    ("outbox/<int:outbound_pk>/retry/", views.outbound_retry, "retry"),
    ("lint/", views.reply_lint_view, "lint"),
    ("canned/", views.canned_reply_fill, "canned"),
    ("conversations/", views.conversations_poll, "poll"),
    ("attachments/<str:attachment_id>/", views.attachment_download, "attachment"),
]

urlpatterns = [
    *(
        path(f"incidents/<int:incident_pk>/{route}", view, name=name)
        for route, view, name in _ACTIONS
    ),
    *(
        path(f"orders/<int:order_pk>/{route}", view, name=f"order_{name}")
        for route, view, name in _ACTIONS
    ),
]
