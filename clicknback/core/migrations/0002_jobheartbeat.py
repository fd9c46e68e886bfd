from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("core", "0001_cache_table")]

    operations = [
        migrations.CreateModel(
            name="JobHeartbeat",
            fields=[
                ("job", models.CharField(max_length=64, primary_key=True, serialize=False)),
                ("interval_seconds", models.PositiveIntegerField()),
                ("last_pass_started_at", models.DateTimeField()),
                ("last_pass_at", models.DateTimeField()),
                ("last_handled", models.PositiveIntegerField(default=0)),
                ("last_failed", models.PositiveIntegerField(default=0)),
                ("last_worker", models.CharField(blank=True, max_length=255)),
                ("passes", models.PositiveBigIntegerField(default=0)),
                ("total_handled", models.PositiveBigIntegerField(default=0)),
                ("total_failed", models.PositiveBigIntegerField(default=0)),
                ("last_error", models.TextField(blank=True)),
                ("last_error_at", models.DateTimeField(blank=True, null=True)),
            ],
            options={"ordering": ["job"]},
        ),
    ]
