from django.contrib.auth import views as auth_views
from django.urls import include, path

from . import blade, blade_views, views

urlpatterns = [
    path(
        "signin/",
        auth_views.LoginView.as_view(
            template_name="portal/login.html", redirect_authenticated_user=True
        ),
        name="login",
    ),
    path("signout/", views.SignOutView.as_view(), name="logout"),
    path("", views.servergroup_list, name="servergroup_list"),
    path("servergroups/refresh/", views.servergroup_refresh, name="servergroup_refresh"),
    path(
        "servergroups/<str:backend>/<str:name>/",
        views.servergroup_overview,
        name="servergroup_overview",
    ),
    *[
        path(f"servergroups/<str:backend>/<str:name>/{suffix}/", view, name=name)
        for suffix, view, name in [
            ("activity", blade_views.activity, "servergroup_activity"),
            ("nodes", blade_views.nodes, "servergroup_nodes"),
            ("networking", blade_views.networking, "servergroup_networking"),
            ("parameters", blade_views.parameters, "servergroup_parameters"),
            ("connection-strings", blade_views.connection, "servergroup_connection"),
            ("menu", blade_views.menu, "servergroup_menu"),
            ("delete", blade_views.delete, "servergroup_delete"),
        ]
    ],
    path("notifications/", views.notification_panel, name="notification_panel"),
    path("notifications/badge/", views.notification_badge, name="notification_badge"),
    path("notifications/read/", views.notification_mark_read, name="notification_mark_read"),
    path("activity/", views.activity_log, name="activity_log"),
    path("menu/", views.portal_menu, name="portal_menu"),
    path("signin-lockouts/", views.signin_lockout_list, name="signin_lockout_list"),
    path("healthz/trivial/", views.trivial, name="trivial"),
    path("", include("restore_wizard.urls")),
    # Apps that add pages of their own (restore drills) register their URLs on the blade.
    *[path("", include(module)) for module in blade.URL_MODULES],
]
