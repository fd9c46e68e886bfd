import factory

from accounts.models import Role, User

TEST_PASSWORD = "Str0ng!Passw0rd"


class UserFactory(factory.django.DjangoModelFactory):
    """A registered user (through the same service as the API, so side effects match)."""

    class Meta:
        model = User

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    password = TEST_PASSWORD
    role = Role.USER

    @classmethod
    def _create(cls, model_class, *args, email, password, role, is_active=True, **kwargs):
        from accounts import services

        user = services.create_account(email=email, password=password, role=role)
        if not is_active:
            User.objects.filter(pk=user.pk).update(is_active=False)
            user.refresh_from_db()
        return user


class AdminFactory(UserFactory):
    email = factory.Sequence(lambda n: f"admin{n}@example.com")
    role = Role.ADMIN
