"""HTTP entry points of accounts (api.md §3–§4)."""

from drf_spectacular.utils import extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from accounts import services
from accounts.serializers import (
    LoginSerializer,
    RefreshSerializer,
    RegistrationSerializer,
    TokenPairSerializer,
    UserSerializer,
)
from clicknback.schema import AUTH_401, VALIDATION_400, error_responses
from clicknback.throttling import LoginEmailThrottle, LoginIpThrottle, RefreshIpThrottle, RegisterIpThrottle

RATE_LIMITED_429 = (429, "RATE_LIMITED")


class AnonymousViewSet(viewsets.ViewSet):
    """Anonymous endpoints ignore any Authorization header (api.md §0.6)."""

    authentication_classes: list = []
    permission_classes = [AllowAny]


class AuthViewSet(AnonymousViewSet):
    def get_throttles(self):
        if self.action == "login":
            return [LoginIpThrottle()]
        if self.action == "refresh":
            return [RefreshIpThrottle()]
        return []

    @extend_schema(
        request=LoginSerializer,
        responses={
            200: TokenPairSerializer,
            **error_responses(VALIDATION_400, (401, "INVALID_CREDENTIALS, USER_INACTIVE"), RATE_LIMITED_429),
        },
        auth=[],
    )
    @action(detail=False, methods=["post"])
    def login(self, request):
        serializer = LoginSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        email_throttle = LoginEmailThrottle(serializer.validated_data["email"])
        if not email_throttle.allow_request(request, self):
            self.throttled(request, email_throttle.wait())
        pair = services.login(**serializer.validated_data)
        return Response(TokenPairSerializer(pair).data)

    @extend_schema(
        request=RefreshSerializer,
        responses={
            200: TokenPairSerializer,
            **error_responses(
                VALIDATION_400, (401, "INVALID_REFRESH_TOKEN, TOKEN_REVOKED, USER_INACTIVE"), RATE_LIMITED_429
            ),
        },
        auth=[],
    )
    @action(detail=False, methods=["post"])
    def refresh(self, request):
        serializer = RefreshSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        pair = services.refresh_tokens(raw_refresh_token=serializer.validated_data["refresh_token"])
        return Response(TokenPairSerializer(pair).data)


class RegistrationViewSet(AnonymousViewSet):
    throttle_classes = [RegisterIpThrottle]

    @extend_schema(
        request=RegistrationSerializer,
        responses={
            201: UserSerializer,
            **error_responses(
                (400, "VALIDATION_ERROR, PASSWORD_NOT_COMPLEX_ENOUGH"),
                (409, "EMAIL_ALREADY_REGISTERED"),
                RATE_LIMITED_429,
            ),
        },
        auth=[],
    )
    def create(self, request):
        serializer = RegistrationSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = services.register_user(**serializer.validated_data)
        return Response(UserSerializer(user).data, status=status.HTTP_201_CREATED)


class MeViewSet(viewsets.ViewSet):
    @extend_schema(responses={200: UserSerializer, **error_responses(AUTH_401)})
    def list(self, request):
        return Response(UserSerializer(request.user).data)
