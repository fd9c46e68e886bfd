from clicknback.routers import OptionalSlashRouter
from merchants import views

router = OptionalSlashRouter()
router.register("merchants", views.MerchantViewSet, basename="merchants")

urlpatterns = router.urls
