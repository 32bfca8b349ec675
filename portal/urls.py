from django.contrib.auth import views as auth_views
from django.urls import include, path

from . import views

urlpatterns = [
    path(
        "signin/",
        auth_views.LoginView.as_view(
            template_name="portal/login.html", redirect_authenticated_user=True
        ),
        name="login",
    ),
    path("signout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", views.servergroup_list, name="servergroup_list"),
    path("servergroups/refresh/", views.servergroup_refresh, name="servergroup_refresh"),
    path(
        "servergroups/<str:backend>/<str:name>/",
        views.servergroup_overview,
        name="servergroup_overview",
    ),
    path("notifications/", views.notification_panel, name="notification_panel"),
    path("notifications/badge/", views.notification_badge, name="notification_badge"),
    path("notifications/read/", views.notification_mark_read, name="notification_mark_read"),
    path("activity/", views.activity_log, name="activity_log"),
    path("healthz/trivial/", views.trivial, name="trivial"),
    path("", include("restore_wizard.urls")),
]
