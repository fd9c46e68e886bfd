from clicknback.routers import OptionalSlashRouter
from offers import views

router = OptionalSlashRouter()
router.register("offers", views.OfferViewSet, basename="offers")

urlpatterns = router.urls
