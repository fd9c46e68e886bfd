"""Back-office for users (admin.md §2 Users) and refresh-token records; every change goes
through accounts.services, so it is validated and audited like the API."""

import contextvars

from django import forms
from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AdminPasswordChangeForm, ReadOnlyPasswordHashField
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.models import Group
from django.core.exceptions import ObjectDoesNotExist

from accounts import policies, services
from accounts.models import RefreshTokenRecord, Role, User, with_email
from clicknback.admin_tools import IdSearchMixin, NoDeleteMixin, ViewOnlyAdmin, run_action, short_id
from clicknback.audit.models import AuditAction
from clicknback.audit.services import Actor
from clicknback.throttling import LoginEmailThrottle, LoginIpThrottle

_current_operator: contextvars.ContextVar = contextvars.ContextVar("current_operator")

# authority comes from the role alone, so Django's groups have no meaning here (and A-3: no deletes).
if admin.site.is_registered(Group):
    admin.site.unregister(Group)


class ThrottledAdminLoginForm(AdminAuthenticationForm):
    """R-218: the back-office login counts against the API login's `login_ip` and `login_email`
    counters, in the API's order (the address first; the email only when the address is within
    its limit). Over a limit the form says so and no password is hashed."""

    error_messages = {
        **AdminAuthenticationForm.error_messages,
        "throttled": "Too many login attempts. Try again in %(seconds)s seconds.",
    }

    def clean(self):
        email = self.cleaned_data.get("username")
        if self.request is not None and email is not None and self.cleaned_data.get("password"):
            for throttle in (LoginIpThrottle(), LoginEmailThrottle(email)):
                if not throttle.allow_request(self.request, None):
                    raise forms.ValidationError(
                        self.error_messages["throttled"], code="throttled", params={"seconds": throttle.wait()}
                    )
        return super().clean()


admin.site.login_form = ThrottledAdminLoginForm


def clean_email_for(raw: str, *, user: User) -> str:
    """R-10/R-208 for the back-office forms: trimmed, valid, not taken by another account."""
    email = raw.strip()
    if problem := policies.email_problem(email):
        raise forms.ValidationError(problem)
    if with_email(User.objects.all(), email).exclude(pk=user.pk).exists():
        raise forms.ValidationError(f"Email '{email}' is already registered.")
    return email


class UserAddForm(forms.ModelForm):
    """email + password (R-10…R-13), checked with the API's rules before the service runs."""

    password1 = forms.CharField(label="Password", strip=False, widget=forms.PasswordInput)
    password2 = forms.CharField(label="Password (again)", strip=False, widget=forms.PasswordInput)

    class Meta:
        model = User
        fields = ["email"]

    def clean_email(self):
        return clean_email_for(self.cleaned_data["email"], user=self.instance)

    def clean_password1(self):
        password = self.cleaned_data["password1"]
        if len(password) > policies.PASSWORD_MAX_LENGTH:
            raise forms.ValidationError("Password must be at most 128 characters.")
        weakness = policies.password_weakness(password)
        if weakness:
            raise forms.ValidationError(f"Password {weakness}.")
        return password

    def clean(self):
        data = super().clean()
        if data.get("password1") and data.get("password1") != data.get("password2"):
            self.add_error("password2", "The two passwords differ.")
        return data


class UserChangeForm(forms.ModelForm):
    # Shown, never edited here: the password changes only through the change-password form.
    password = ReadOnlyPasswordHashField(label="Password")

    class Meta:
        model = User
        fields = ["email"]

    def clean_email(self):
        return clean_email_for(self.cleaned_data["email"], user=self.instance)


class PasswordChangeThroughService(AdminPasswordChangeForm):
    """Django's change-password form, saved by accounts.services (R-11, audited, tokens revoked)."""

    def __init__(self, user, *args, **kwargs):
        super().__init__(user, *args, **kwargs)
        # Setting a password is the only choice: "disable password-based login" is not offered.
        self.fields.pop("usable_password", None)

    def save(self, commit=True):
        services.set_user_password(
            user_id=self.user.pk, password=self.cleaned_data["password1"],
            actor=Actor.of_user(_current_operator.get()),
        )
        self.user.refresh_from_db()
        return self.user


@admin.register(User)
class UserAdmin(IdSearchMixin, NoDeleteMixin, DjangoUserAdmin):
    form = UserChangeForm
    add_form = UserAddForm
    change_password_form = PasswordChangeThroughService
    list_display = ["email", short_id, "role", "is_active", "created_at", "available_balance"]
    list_select_related = ["wallet"]
    list_filter = ["role", "is_active", "created_at"]
    search_fields = ["email"]
    ordering = ["-created_at", "id"]
    list_per_page = 50
    readonly_fields = ["id", "role", "is_active", "created_at", "last_login"]
    fieldsets = [(None, {"fields": ["id", "email", "password", "role", "is_active", "created_at", "last_login"]})]
    add_fieldsets = [(None, {"classes": ["wide"], "fields": ["email", "password1", "password2"]})]
    filter_horizontal: list = []
    actions = ["activate", "deactivate", "make_admin", "make_regular_user"]

    @admin.display(description="available balance", ordering="wallet__available_balance")
    def available_balance(self, obj):
        try:
            return obj.wallet.available_balance
        except ObjectDoesNotExist:
            return "—"

    def save_model(self, request, obj, form, change):
        actor = request.user
        if change:
            saved = services.update_user_email(user_id=obj.pk, email=form.cleaned_data["email"], actor_user=actor)
        else:
            saved = services.register_user(
                email=form.cleaned_data["email"],
                password=form.cleaned_data["password1"],
                actor=Actor.of_user(actor),
            )
        obj.__dict__.update({k: v for k, v in saved.__dict__.items() if not k.startswith("_")})
        obj._state.adding = False

    def user_change_password(self, request, id, form_url=""):
        token = _current_operator.set(request.user)
        try:
            return super().user_change_password(request, id, form_url)
        finally:
            _current_operator.reset(token)

    def _run(self, request, queryset, audit_action, change):
        """A-5/A-6 through accounts.services; `change(user_id, operator)` returns False when unchanged."""
        run_action(self, request, queryset, resource_type="user", audit_action=audit_action,
                   operation=lambda user, actor: change(user.pk, request.user))

    @admin.action(description="Activate selected users")
    def activate(self, request, queryset):
        self._run(request, queryset, AuditAction.USER_ACTIVATED,
                  lambda user_id, operator: services.set_user_active(user_id=user_id, active=True, actor_user=operator))

    @admin.action(description="Deactivate selected users")
    def deactivate(self, request, queryset):
        self._run(request, queryset, AuditAction.USER_DEACTIVATED,
                  lambda user_id, operator: services.set_user_active(user_id=user_id, active=False, actor_user=operator))

    @admin.action(description="Make admin")
    def make_admin(self, request, queryset):
        self._run(request, queryset, AuditAction.USER_ROLE_CHANGED,
                  lambda user_id, operator: services.set_user_role(user_id=user_id, role=Role.ADMIN, actor_user=operator))

    @admin.action(description="Make regular user")
    def make_regular_user(self, request, queryset):
        self._run(request, queryset, AuditAction.USER_ROLE_CHANGED,
                  lambda user_id, operator: services.set_user_role(user_id=user_id, role=Role.USER, actor_user=operator))


@admin.register(RefreshTokenRecord)
class RefreshTokenRecordAdmin(ViewOnlyAdmin):
    list_display = ["user_email", "jti", "issued_at", "expires_at", "used_at", "revoked_at"]
    list_select_related = ["user"]
    search_fields = ["user__email", "jti"]

    @admin.display(description="user email", ordering="user__email")
    def user_email(self, obj):
        return obj.user.email
