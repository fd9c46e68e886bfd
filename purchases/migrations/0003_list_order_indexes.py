"""Issue 7: one index per list filter in the lists' order (newest first, ties by id), so a page is an
index range and the exact `pagination.total` an index-only count. Built CONCURRENTLY, new ones first,
so ingestion is never blocked and no list is ever left without an index on a large table."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from clicknback.migration_ops import AddIndexConcurrentlyOnPostgres, RemoveIndexConcurrentlyOnPostgres


FOREIGN_KEY_INDEXES = {  # Django's names for the indexes of 0001's foreign keys
    "purchases_purchase_merchant_id_1d63feac": "merchant_id",
    "purchases_purchase_user_id_05c12ae8": "user_id",
}


def _concurrently(schema_editor) -> str:
    return "CONCURRENTLY " if schema_editor.connection.vendor == "postgresql" else ""


def drop_foreign_key_indexes(apps, schema_editor):
    for name in FOREIGN_KEY_INDEXES:
        schema_editor.execute(f'DROP INDEX {_concurrently(schema_editor)}IF EXISTS "{name}"')


def create_foreign_key_indexes(apps, schema_editor):
    for name, column in FOREIGN_KEY_INDEXES.items():
        schema_editor.execute(
            f'CREATE INDEX {_concurrently(schema_editor)}IF NOT EXISTS "{name}" ON "purchases_purchase" ("{column}")'
        )


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ('merchants', '0001_initial'),
        ('offers', '0001_initial'),
        ('purchases', '0002_webhookevent'),
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
        # The foreign keys' own single-column indexes: purchase_user_newest and purchase_merchant_newest
        # lead with the same column, so they only cost writes. Dropped by name, CONCURRENTLY, with the
        # constraints left alone (AlterField would drop and re-validate the foreign keys).
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(drop_foreign_key_indexes, create_foreign_key_indexes)],
            state_operations=[
                migrations.AlterField(
                    model_name='purchase',
                    name='merchant',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT,
                                            related_name='purchases', to='merchants.merchant'),
                ),
                migrations.AlterField(
                    model_name='purchase',
                    name='user',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT,
                                            related_name='purchases', to=settings.AUTH_USER_MODEL),
                ),
            ],
        ),
    ]
