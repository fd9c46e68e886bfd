"""Domain errors of merchants (api.md §5)."""

from rest_framework import status

from clicknback.errors import DomainError


class MerchantNameAlreadyExists(DomainError):
    code = "MERCHANT_NAME_ALREADY_EXISTS"
    status = status.HTTP_409_CONFLICT

    def __init__(self, name: str):
        super().__init__(f"A merchant named '{name}' already exists.", details={"name": name})
