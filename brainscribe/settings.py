"""Brainscribe settings: one module, every value from the environment.

Defaults give the embedded set-up (SQLite, a broker that needs no server, files under ``var/``);
production sets ``DATABASE_URL``, ``CELERY_BROKER_URL`` and the S3 variables. Every variable is
listed with its default in the README's configuration table. Nothing here touches the disk or the
network: directories are created by the commands that need them.
"""

from __future__ import annotations

import os
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from brainscribe.env import env_bool, env_int, env_list, env_str, env_url

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("BRAINSCRIBE_VAR_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DEBUG", False)

# A secret key is mandatory outside DEBUG: a default would sign every production session with a
# value published in this repository.
if DEBUG:
    SECRET_KEY = env_str("SECRET_KEY", "insecure-development-key-do-not-use-in-production")
else:
    try:
        SECRET_KEY = env_str("SECRET_KEY")
    except ImproperlyConfigured:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set and DEBUG is off. Set SECRET_KEY (or SECRET_KEY_FILE) to a long random "
            "string, or DEBUG=true for local development."
        ) from None

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"] + (["*"] if DEBUG else []))
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "django_celery_results",
    "brainscribe",
    "annotations",
    "inference",
    "frontend",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "brainscribe.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "brainscribe.middleware.LoginRateLimitMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "brainscribe.urls"
WSGI_APPLICATION = "brainscribe.wsgi.application"
ASGI_APPLICATION = "brainscribe.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------------
DATABASE_URL = env_url(
    "DATABASE_URL",
    f"sqlite:///{VAR_DIR / 'db.sqlite3'}",
    {"sqlite", "postgres", "postgresql", "pgsql", "psql"},
)
_db = environ.Env.db_url_config(DATABASE_URL)
if _db["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web server read while the worker writes; IMMEDIATE transactions take the write
    # lock up front so two writers queue instead of failing with "database is locked".
    _db["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # A file (not memory) so that worker subprocesses started by tests see the test database; one
    # per test process so that two test runs on one checkout do not trample each other.
    _db["TEST"] = {"NAME": str(VAR_DIR / f"test-db-{os.getpid()}.sqlite3")}
else:
    _db["CONN_MAX_AGE"] = env_int("DATABASE_CONN_MAX_AGE", 60)
    _db["CONN_HEALTH_CHECKS"] = True
    _db.setdefault("OPTIONS", {})["connect_timeout"] = env_int("DATABASE_CONNECT_TIMEOUT", 5)
DATABASES = {"default": _db}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache (login rate limits) ---------------------------------------------------------------------
# Per process by default; set CACHE_URL=redis://… so limits hold across web processes.
CACHE_URL = env_url("CACHE_URL", "locmem://", {"locmem", "redis", "rediss"})
if CACHE_URL.startswith("locmem"):
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}}

# --- Files ----------------------------------------------------------------------------------------
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STATIC_URL = "/static/"
MEDIA_URL = "/media/"

S3_BUCKET = env_str("S3_BUCKET", "")
if S3_BUCKET:
    _files_backend = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": S3_BUCKET,
            "endpoint_url": env_str("S3_ENDPOINT_URL", None) or None,
            "access_key": env_str("S3_ACCESS_KEY_ID", None) or None,
            "secret_key": env_str("S3_SECRET_ACCESS_KEY", None) or None,
            "region_name": env_str("S3_REGION", None) or None,
            "file_overwrite": False,
            "default_acl": None,
            "querystring_auth": True,
        },
    }
else:
    _files_backend = {
        "BACKEND": "brainscribe.storage.AtomicFileSystemStorage",
        "OPTIONS": {"location": str(MEDIA_ROOT)},
    }
STORAGES = {
    "default": _files_backend,
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
# Tests and the demo run without collectstatic's manifest when asked to.
if env_bool("STATIC_NO_MANIFEST", False):
    STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}

# Uploads: NIfTI volumes are large but bounded. Bodies above FILE_UPLOAD_MAX_MEMORY_SIZE spool to
# disk; anything above BRAINSCRIBE_MAX_UPLOAD_BYTES is refused before it is read.
BRAINSCRIBE_MAX_UPLOAD_BYTES = env_int("BRAINSCRIBE_MAX_UPLOAD_BYTES", 1024 * 1024 * 1024)
BRAINSCRIBE_MAX_VOXELS = env_int("BRAINSCRIBE_MAX_VOXELS", 512 * 512 * 512)
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 128 * 1024 * 1024)
FILE_UPLOAD_MAX_MEMORY_SIZE = env_int("FILE_UPLOAD_MAX_MEMORY_SIZE", 16 * 1024 * 1024)
DATA_UPLOAD_MAX_NUMBER_FIELDS = 1000
DATA_UPLOAD_MAX_NUMBER_FILES = 32

# Folders on the server that import jobs started through the API may read (CLI imports may read any).
BRAINSCRIBE_IMPORT_ROOTS = env_list("BRAINSCRIBE_IMPORT_ROOTS", [str(VAR_DIR / "import")])
# An imported archive may unpack to at most this much (a zip bomb stops here).
BRAINSCRIBE_MAX_IMPORT_BYTES = env_int("BRAINSCRIBE_MAX_IMPORT_BYTES", 20 * 1024**3)

# --- Security -------------------------------------------------------------------------------------
# HTTPS defaults follow DEBUG: production is behind TLS; a laptop demo is not.
HTTPS = env_bool("HTTPS", not DEBUG)
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", HTTPS)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000 if HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
# Preloading commits a whole domain (often the hospital's) to HTTPS in every browser; that is the
# domain owner's decision, so it is off by default and its deploy-check reminder silenced.
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]
if env_bool("SECURE_PROXY_SSL_HEADER", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 12 * 3600)
CSRF_COOKIE_HTTPONLY = False  # the browser UI reads it to send X-CSRFToken with fetch()
X_FRAME_OPTIONS = "DENY"
# NiiVue compiles WebGL shaders and runs WebAssembly; nothing is loaded from another origin.
CONTENT_SECURITY_POLICY = env_str(
    "CONTENT_SECURITY_POLICY",
    "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; connect-src 'self' blob: data:; worker-src 'self' blob:; "
    "font-src 'self' data:; object-src 'none'; base-uri 'self'; frame-ancestors 'none'; form-action 'self'",
)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = ["brainscribe.auth.RateLimitedModelBackend"]
LOGIN_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)
LOGIN_FAILURE_WINDOW = env_int("LOGIN_FAILURE_WINDOW", 300)
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

# --- API ------------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_THROTTLE_RATES": {"login": env_str("LOGIN_THROTTLE_RATE", "10/min")},
    "EXCEPTION_HANDLER": "brainscribe.api.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Brainscribe API",
    "DESCRIPTION": "Cases, versioned masks and grounded reports for brain MRI; jobs for inference, "
    "training, scoring and export.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "CaseStatusEnum": "annotations.models.cases.CaseStatus",
        "SplitEnum": "annotations.models.cases.Split",
        "SentenceStatusEnum": "annotations.models.reports.SentenceStatus",
        "SentenceKindEnum": "annotations.models.reports.SentenceKind",
        "RoleEnum": "annotations.models.projects.Role",
        "ModalityEnum": "annotations.models.projects.MODALITIES",
        "JobStatusEnum": "inference.models.JobStatus",
        "JobTypeEnum": "inference.models.JobType",
        "MaskSourceEnum": "annotations.models.masks.VersionSource",
    },
}

# --- Jobs (Celery) --------------------------------------------------------------------------------
CELERY_BROKER_URL = env_url(
    "CELERY_BROKER_URL",
    # The host is ignored by the filesystem transport; naming one keeps kombu from warning that
    # it "reverts to localhost" on every start.
    "filesystem://localhost/",
    {"filesystem", "redis", "rediss", "amqp", "amqps", "pyamqp", "sqs", "memory"},
)
CELERY_BROKER_DIR = BASE_DIR / env_str("CELERY_BROKER_DIR", str(VAR_DIR / "broker"))
if CELERY_BROKER_URL.startswith("filesystem://"):
    # kombu's filesystem transport: producer and consumer share one folder; no server needed.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_BROKER_DIR / "queue"),
        "data_folder_out": str(CELERY_BROKER_DIR / "queue"),
        "processed_folder": str(CELERY_BROKER_DIR / "processed"),
        "control_folder": str(CELERY_BROKER_DIR / "control"),
        "store_processed": False,
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        # Redis redelivers an unacknowledged task after this long; it must exceed the longest task.
        "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 6 * 3600),
        "socket_connect_timeout": 3,
    }
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_TIMEOUT = 3
CELERY_RESULT_BACKEND = "django-db"
CELERY_RESULT_EXTENDED = True
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 4 * 3600)
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 4 * 3600 - 60)
CELERY_TASK_TRACK_STARTED = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True

# --- Machine learning -----------------------------------------------------------------------------
BRAINSCRIBE_DEVICE = env_str("BRAINSCRIBE_DEVICE", "auto")  # auto | cpu | cuda
BRAINSCRIBE_RATESCORE_PATH = env_str("BRAINSCRIBE_RATESCORE_PATH", "")
# Scratch space for running jobs (training data copies, per-epoch checkpoints); local to a worker.
BRAINSCRIBE_JOB_DIR = env_str("BRAINSCRIBE_JOB_DIR", str(VAR_DIR / "jobs"))
# Seconds a running job's worker may stay silent before another worker may take the job over.
BRAINSCRIBE_JOB_STALE_AFTER = env_int("BRAINSCRIBE_JOB_STALE_AFTER", 15 * 60)
if BRAINSCRIBE_JOB_STALE_AFTER < 60:
    # A live worker reports once per case (seconds each on a CPU); below a minute it would be
    # taken for dead and its job run twice.
    raise ImproperlyConfigured(
        f"BRAINSCRIBE_JOB_STALE_AFTER={BRAINSCRIBE_JOB_STALE_AFTER} must be at least 60 seconds."
    )

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}
