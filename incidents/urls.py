from django.urls import path

from incidents import views

app_name = "incidents"

urlpatterns = [
    path("", views.overview, name="overview"),
]
