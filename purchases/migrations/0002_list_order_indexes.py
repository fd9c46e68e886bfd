"""Issue 7: one index per list filter in the lists' order (newest first, ties by id), so a page is an
index range and the exact `pagination.total` an index-only count. Built CONCURRENTLY, new ones first,
so ingestion is never blocked and no list is ever left without an index on a large table."""

from django.conf import settings
from django.db import migrations, models

from clicknback.migration_ops import AddIndexConcurrentlyOnPostgres, RemoveIndexConcurrentlyOnPostgres


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ('merchants', '0001_initial'),
        ('offers', '0001_initial'),
        ('purchases', '0001_initial'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        AddIndexConcurrentlyOnPostgres(
            model_name='purchase',
            index=models.Index(fields=['-created_at', 'id'], name='purchase_newest'),
        ),
        AddIndexConcurrentlyOnPostgres(
            model_name='purchase',
            index=models.Index(fields=['user', '-created_at', 'id'], include=('status',), name='purchase_user_newest'),
        ),
        AddIndexConcurrentlyOnPostgres(
            model_name='purchase',
            index=models.Index(fields=['merchant', '-created_at', 'id'], include=('status',),
                               name='purchase_merchant_newest'),
        ),
        AddIndexConcurrentlyOnPostgres(
            model_name='purchase',
            index=models.Index(fields=['status', '-created_at', 'id'], name='purchase_status_newest'),
        ),
        # Superseded: (user, created_at) by purchase_user_newest, (created_at, id) by purchase_newest.
        RemoveIndexConcurrentlyOnPostgres(
            model_name='purchase',
            name='purchases_p_user_id_a7bf26_idx',
        ),
        RemoveIndexConcurrentlyOnPostgres(
            model_name='purchase',
            name='purchases_p_created_232529_idx',
        ),
    ]
