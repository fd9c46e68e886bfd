"""Issue 7: cashback transactions listed newest first, ties by id (the user's wallet transactions,
the back-office list) read their page from an index in that order. Built CONCURRENTLY, new first."""

from django.conf import settings
from django.db import migrations, models

from clicknback.migration_ops import AddIndexConcurrentlyOnPostgres, RemoveIndexConcurrentlyOnPostgres


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ('wallets', '0004_ledgerentry_created_at_index'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        AddIndexConcurrentlyOnPostgres(
            model_name='cashbacktransaction',
            index=models.Index(fields=['user', '-created_at', 'id'], name='cashback_user_newest'),
        ),
        AddIndexConcurrentlyOnPostgres(
            model_name='cashbacktransaction',
            index=models.Index(fields=['-created_at', 'id'], name='cashback_newest'),
        ),
        # Superseded by cashback_user_newest.
        RemoveIndexConcurrentlyOnPostgres(
            model_name='cashbacktransaction',
            name='wallets_cas_user_id_82459a_idx',
        ),
    ]
