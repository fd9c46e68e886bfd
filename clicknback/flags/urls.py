from clicknback.flags import views
from clicknback.routers import OptionalSlashRouter

router = OptionalSlashRouter()
router.register("feature-flags", views.FeatureFlagViewSet, basename="feature-flags")

urlpatterns = router.urls
