from django.apps import AppConfig


class WalletsConfig(AppConfig):
    name = "wallets"
    verbose_name = "Wallets"

    def ready(self):
        from accounts.signals import account_created
        from wallets import services

        # the wallet is created in the registration transaction.
        account_created.connect(services.on_account_created, dispatch_uid="wallets.create_wallet")
