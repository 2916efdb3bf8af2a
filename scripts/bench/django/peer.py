"""The peer a Django team would write: Django + djangorestframework-simplejwt with rotation and
blacklisting on, the same flow as Gatehouse, tokens in httpOnly cookies. Login sets both cookies;
/me authenticates the access cookie the way simplejwt's JWTAuthentication does (which loads the
user); refresh runs TokenRefreshSerializer (rotates, blacklists the old token). SQLite in WAL
mode, Django's Argon2 hasher. Served by gunicorn. Installed into a scratch directory by
scripts/bench-load, never committed.

    python peer.py migrate          # create the database and the bench user
    gunicorn peer:application       # serve
"""
import os
import sys
from datetime import timedelta

import django
from django.conf import settings

settings.configure(
    DEBUG=False,
    SECRET_KEY="peer-django-secret-0123456789-abcdefghij",
    ALLOWED_HOSTS=["*"],
    ROOT_URLCONF=__name__,
    USE_TZ=True,
    INSTALLED_APPS=[
        "django.contrib.contenttypes",
        "django.contrib.auth",
        "rest_framework",
        "rest_framework_simplejwt.token_blacklist",
    ],
    MIDDLEWARE=[],
    DATABASES={
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get("PEER_DB", "peer.db"),
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                "timeout": 20,
            },
        }
    },
    PASSWORD_HASHERS=["django.contrib.auth.hashers.Argon2PasswordHasher"],
    REST_FRAMEWORK={
        "DEFAULT_AUTHENTICATION_CLASSES": [],
        "DEFAULT_PERMISSION_CLASSES": [],
        "UNAUTHENTICATED_USER": None,
    },
    SIMPLE_JWT={
        "ALGORITHM": "HS256",
        "SIGNING_KEY": "peer-django-jwt-key-0123456789-abcdefghij",
        "ACCESS_TOKEN_LIFETIME": timedelta(minutes=15),
        "REFRESH_TOKEN_LIFETIME": timedelta(days=7),
        "ROTATE_REFRESH_TOKENS": True,
        "BLACKLIST_AFTER_ROTATION": True,
        "UPDATE_LAST_LOGIN": False,
    },
)
django.setup()

from django.contrib.auth import authenticate, get_user_model  # noqa: E402
from django.http import HttpResponse  # noqa: E402
from django.urls import path  # noqa: E402
from rest_framework.response import Response  # noqa: E402
from rest_framework.views import APIView  # noqa: E402
from rest_framework_simplejwt.authentication import JWTAuthentication  # noqa: E402
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError  # noqa: E402
from rest_framework_simplejwt.serializers import TokenRefreshSerializer  # noqa: E402
from rest_framework_simplejwt.tokens import RefreshToken  # noqa: E402


def user_json(user):
    return {
        "id": user.pk,
        "email": user.email,
        "username": user.username,
        "full_name": user.first_name,
        "created_at": user.date_joined.isoformat(),
    }


def set_pair(response, access, refresh):
    response.set_cookie("access_token", access, max_age=900, httponly=True, secure=True, samesite="Lax")
    response.set_cookie("refresh_token", refresh, max_age=7 * 86400, httponly=True, secure=True,
                        samesite="Strict", path="/api/auth")


class Login(APIView):
    def post(self, request):
        user = authenticate(username=request.data.get("login", ""), password=request.data.get("password", ""))
        if user is None:
            return Response({"code": "invalid_credentials"}, status=401)
        refresh = RefreshToken.for_user(user)
        response = Response(user_json(user))
        set_pair(response, str(refresh.access_token), str(refresh))
        return response


class Me(APIView):
    def get(self, request):
        auth = JWTAuthentication()
        try:
            token = auth.get_validated_token(request.COOKIES.get("access_token", ""))
            user = auth.get_user(token)
        except (InvalidToken, TokenError, Exception):
            return Response({"code": "token_invalid"}, status=401)
        return Response(user_json(user))


class Refresh(APIView):
    def post(self, request):
        serializer = TokenRefreshSerializer(data={"refresh": request.COOKIES.get("refresh_token", "")})
        try:
            serializer.is_valid(raise_exception=True)
        except (InvalidToken, TokenError, Exception):
            return Response({"code": "token_invalid"}, status=401)
        response = Response({"ok": True})
        set_pair(response, serializer.validated_data["access"], serializer.validated_data["refresh"])
        return response


def hello(request):
    return HttpResponse("Hello, world!")


def mint_refresh_tokens(request):
    """Benchmark hook: N refresh tokens of the bench user, one per line."""
    user = get_user_model().objects.get(username="bench")
    n = int(request.GET.get("n", "0"))
    return HttpResponse("\n".join(str(RefreshToken.for_user(user)) for _ in range(n)), content_type="text/plain")


urlpatterns = [
    path("", hello),
    path("api/auth/login", Login.as_view()),
    path("api/auth/me", Me.as_view()),
    path("api/auth/refresh", Refresh.as_view()),
    path("bench/refresh-tokens", mint_refresh_tokens),
]

from django.core.wsgi import get_wsgi_application  # noqa: E402

application = get_wsgi_application()

if __name__ == "__main__":
    from django.core.management import call_command

    if sys.argv[1:] == ["migrate"]:
        call_command("migrate", verbosity=0)
        User = get_user_model()
        if not User.objects.filter(username="bench").exists():
            User.objects.create_user("bench", "bench@example.org", "correct horse battery", first_name="Bench Mark")
