"""Issue 7: the payout lists' order (newest request first, ties by id) served by its indexes.
Built CONCURRENTLY, new ones first."""

from django.conf import settings
from django.db import migrations, models

from clicknback.migration_ops import AddIndexConcurrentlyOnPostgres, RemoveIndexConcurrentlyOnPostgres


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ('payouts', '0001_initial'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        AddIndexConcurrentlyOnPostgres(
            model_name='payout',
            index=models.Index(fields=['user', '-requested_at', 'id'], name='payout_user_newest'),
        ),
        AddIndexConcurrentlyOnPostgres(
            model_name='payout',
            index=models.Index(fields=['-requested_at', 'id'], name='payout_newest'),
        ),
        # Superseded: (user, requested_at) and (requested_at, id).
        RemoveIndexConcurrentlyOnPostgres(
            model_name='payout',
            name='payouts_pay_user_id_14eb7c_idx',
        ),
        RemoveIndexConcurrentlyOnPostgres(
            model_name='payout',
            name='payouts_pay_request_8292cd_idx',
        ),
    ]
