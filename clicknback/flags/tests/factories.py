import uuid

import factory

from clicknback.flags.models import FeatureFlag, ScopeType


class FeatureFlagFactory(factory.django.DjangoModelFactory):
    """A global flag by default; pass scope_type="user"/"merchant" for a scoped one (it gets a scope id)."""

    class Meta:
        model = FeatureFlag

    key = factory.Sequence(lambda n: f"flag_{n:04d}")
    enabled = True
    scope_type = ScopeType.GLOBAL
    scope_id = factory.LazyAttribute(lambda f: None if f.scope_type == ScopeType.GLOBAL else uuid.uuid4())
    description = None
