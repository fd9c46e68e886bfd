from django.urls import re_path

from wallets import views

summary = views.WalletViewSet.as_view({"get": "summary"})
transactions = views.WalletViewSet.as_view({"get": "transactions"})

urlpatterns = [
    re_path(r"^users/me/wallet/?$", summary, name="users-me-wallet"),
    re_path(r"^users/me/wallet/transactions/?$", transactions, name="users-me-wallet-transactions"),
    re_path(r"^users/(?P<user_id>[^/]+)/wallet/?$", summary, name="users-wallet"),
    re_path(r"^users/(?P<user_id>[^/]+)/wallet/transactions/?$", transactions, name="users-wallet-transactions"),
]
