"""HTTP entry points of wallets (api.md §8) and their aliases (§0.7)."""

from drf_spectacular.utils import extend_schema
from rest_framework import viewsets
from rest_framework.response import Response

from accounts.selectors import resolve_path_user
from clicknback.errors import NotFound
from clicknback.pagination import paginated_response
from clicknback.query import QueryReader
from clicknback.schema import AUTH_401, VALIDATION_400, error_responses
from wallets import selectors
from wallets.serializers import WalletSummarySerializer, WalletTransactionSerializer

ALIAS_ERRORS = ((403, "FORBIDDEN"), (404, "NOT_FOUND"))


class WalletViewSet(viewsets.ViewSet):
    @extend_schema(responses={200: WalletSummarySerializer, **error_responses(AUTH_401, *ALIAS_ERRORS)})
    def summary(self, request, user_id="me"):
        owner = resolve_path_user(request.user, user_id)
        # Money as JSON strings with two decimals, as WalletSummarySerializer documents (no serializer pass).
        return Response({name: f"{value:.2f}" for name, value in selectors.wallet_summary(owner.pk).items()})

    @extend_schema(
        responses={200: WalletTransactionSerializer(many=True), **error_responses(VALIDATION_400, AUTH_401, *ALIAS_ERRORS)}
    )
    def transactions(self, request, user_id="me"):
        query = QueryReader(request.query_params)
        try:
            owner = resolve_path_user(request.user, user_id)
        except NotFound:
            # §0.6: a malformed query (400) answers before an unknown user (404); R-22's 403 stays first.
            query.pagination()
            query.done()
            raise
        query.pagination()
        query.done()
        return paginated_response(request, selectors.cashback_transactions_of(owner.pk), WalletTransactionSerializer)
