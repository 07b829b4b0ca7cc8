"""The one configuration object, read from the environment once at start-up.

No other module reads ``os.environ``: everything below is passed down from here.
Every field is documented in ``.env.example``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ConfigError(Exception):
    """A configuration value is missing or invalid; the message names the variable."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(frozen=True, extra="ignore", env_file=None)

    # Server
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    public_url: str = "http://127.0.0.1:8000"
    frontdesk_home: Path = Path.home() / ".frontdesk"
    database_url: str | None = None
    log_level: str = "INFO"

    # Calls
    max_calls: int = Field(10, ge=1, le=1000)
    call_token_secret: SecretStr | None = Field(None, repr=False)
    call_token_ttl_seconds: int = Field(60, ge=5, le=600)
    meter_tick_seconds: int = Field(15, ge=1, le=15)
    heartbeat_seconds: float = Field(5.0, gt=0, le=60)
    stale_after_seconds: float = Field(30.0, gt=0, le=600)
    ws_send_timeout_seconds: float = Field(2.0, gt=0, le=30)
    stream_idle_seconds: float = Field(10.0, gt=0, le=120)
    # Talk time credited to an organisation's first client, once per organisation (0: none),
    # so a new business can take a call before anyone has bought time.
    trial_seconds: int = Field(600, ge=0, le=10_000_000)

    # Twilio
    twilio_account_sid: str | None = None
    twilio_auth_token: SecretStr | None = Field(None, repr=False)
    twilio_api_base_url: str = "https://api.twilio.com"

    # API auth
    jwt_secret: SecretStr | None = Field(None, repr=False)

    # Providers: every URL is a setting so tests and self-hosted servers can stand in.
    deepgram_api_key: SecretStr | None = Field(None, repr=False)
    deepgram_url: str = "wss://api.deepgram.com"
    openai_api_key: SecretStr | None = Field(None, repr=False)
    openai_base_url: str | None = None
    cartesia_api_key: SecretStr | None = Field(None, repr=False)
    cartesia_url: str = "wss://api.cartesia.ai"
    elevenlabs_api_key: SecretStr | None = Field(None, repr=False)
    elevenlabs_url: str = "wss://api.elevenlabs.io"

    # Offline models
    local_models: bool = True
    stt_threads: int = Field(2, ge=1, le=16)
    stt_workers: int = Field(1, ge=1, le=16)

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, v: str) -> str:
        parts = urlsplit(v)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("must be an absolute http(s) URL such as https://voice.example.com")
        return v.rstrip("/")

    @field_validator("frontdesk_home")
    @classmethod
    def _home(cls, v: Path) -> Path:
        return v.expanduser()

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, v: str | None) -> str | None:
        if v in (None, ""):
            return None
        if urlsplit(v).scheme not in ("postgres", "postgresql"):
            raise ValueError("must be a postgresql:// URL")
        return v

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, v: str) -> str:
        v = v.upper()
        if v not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR")
        return v

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, **_sources):  # type: ignore[override]
        # Only what from_env() passes in: the caller decides which environment is read.
        return (init_settings,)

    @classmethod
    def from_env(cls, env: Mapping[str, str], **overrides: object) -> Settings:
        """Build settings from an environment mapping; raise ConfigError naming the variable."""
        fields = {name.upper(): name for name in cls.model_fields}
        values: dict[str, object] = {
            fields[k]: v for k, v in env.items() if k in fields and v != ""
        }
        values.update(overrides)
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            lines = [
                f"{'.'.join(str(p) for p in err['loc']).upper()}: {err['msg']}"
                for err in exc.errors()
            ]
            raise ConfigError("invalid configuration:\n  " + "\n  ".join(lines)) from None

    # Derived values
    @property
    def public_ws_base(self) -> str:
        """wss:// (or ws:// for a plain-http development URL) base for <Stream url>."""
        parts = urlsplit(self.public_url)
        scheme = "wss" if parts.scheme == "https" else "ws"
        return f"{scheme}://{parts.netloc}{parts.path}"

    @property
    def voice_url(self) -> str:
        return f"{self.public_url}/voice"

    def secret(self, name: str) -> str | None:
        value = getattr(self, name)
        return value.get_secret_value() if value is not None else None

    # --- REST API (appended; see .env.example) ---------------------------------------------
    cors_origins: str = ""  # comma-separated origins allowed to call the API from a browser
    encryption_key: SecretStr | None = Field(None, repr=False)  # Fernet key(s), comma-separated
    max_body_bytes: int = Field(1_048_576, ge=1024, le=104_857_600)
    rate_limit_requests: int = Field(120, ge=1)  # per user or API key, per window
    rate_limit_window_seconds: int = Field(60, ge=1, le=86_400)
    auth_rate_limit_requests: int = Field(20, ge=1)  # per address on sign-in endpoints
    google_client_id: str | None = None
    google_client_secret: SecretStr | None = Field(None, repr=False)
    google_auth_url: str = "https://accounts.google.com/o/oauth2/v2/auth"
    google_token_url: str = "https://oauth2.googleapis.com/token"
    google_userinfo_url: str = "https://openidconnect.googleapis.com/v1/userinfo"
    google_revoke_url: str = "https://oauth2.googleapis.com/revoke"
    smtp_url: SecretStr | None = Field(None, repr=False)  # smtp://user:pass@host:587, smtps://...
    mail_from: str = "frontdesk@localhost"
    password_reset_url: str | None = None  # link in the reset e-mail; ?token=... is appended
    invitation_url: str | None = None  # link in a team invitation; ?token=... is appended
    invitation_ttl_days: int = Field(7, ge=1, le=90)  # how long an invitation stays open

    @field_validator("encryption_key")
    @classmethod
    def _encryption_key(cls, v: SecretStr | None) -> SecretStr | None:
        if v is None or not v.get_secret_value().strip():
            return None
        from cryptography.fernet import Fernet

        try:
            for key in v.get_secret_value().split(","):
                Fernet(key.strip().encode())
        except ValueError:
            raise ValueError("must be one or more comma-separated Fernet keys; make one with"
                             " python -c 'from cryptography.fernet import Fernet;"
                             " print(Fernet.generate_key().decode())'") from None
        return v

    # --- Calendars: Google Calendar and Microsoft 365 as the calendar of record ------------
    google_calendar_api_url: str = "https://www.googleapis.com/calendar/v3"
    microsoft_client_id: str | None = None
    microsoft_client_secret: SecretStr | None = Field(None, repr=False)
    microsoft_tenant: str = "common"  # a tenant GUID or domain, common, organizations, consumers
    microsoft_login_url: str = "https://login.microsoftonline.com"
    microsoft_graph_url: str = "https://graph.microsoft.com/v1.0"
    calendar_timeout_seconds: float = Field(10.0, gt=0, le=60)

    @field_validator("google_calendar_api_url", "microsoft_login_url", "microsoft_graph_url")
    @classmethod
    def _base_url(cls, v: str) -> str:
        parts = urlsplit(v)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("must be an absolute http(s) URL")
        return v.rstrip("/")
    # --- After the call: job queue, webhooks, texts, e-mail (see .env.example) -------------
    event_workers: int = Field(1, ge=0, le=64)  # queue workers inside `frontdesk serve`
    job_concurrency: int = Field(10, ge=1, le=500)  # jobs one worker runs at once
    job_max_attempts: int = Field(6, ge=1, le=50)
    job_retry_base_seconds: float = Field(5.0, gt=0, le=3600)
    job_heartbeat_seconds: float = Field(30.0, ge=1, le=600)
    webhook_retry_delays: str = "60,300,1800"  # seconds before each retry
    webhook_connect_timeout_seconds: float = Field(5.0, gt=0, le=60)
    webhook_timeout_seconds: float = Field(10.0, gt=0, le=120)
    webhook_disable_after_seconds: float = Field(86_400.0, gt=0)
    webhook_allow_private_targets: bool = False
    integrations_stub_mode: bool = False
    email_backend: str = "auto"  # auto | smtp | resend | sendgrid | stub
    resend_api_key: SecretStr | None = Field(None, repr=False)
    resend_api_url: str = "https://api.resend.com"
    sendgrid_api_key: SecretStr | None = Field(None, repr=False)
    sendgrid_api_url: str = "https://api.sendgrid.com"

    @field_validator("webhook_retry_delays")
    @classmethod
    def _retry_delays(cls, v: str) -> str:
        try:
            delays = [float(d) for d in v.split(",") if d.strip()]
        except ValueError:
            raise ValueError("must be comma-separated seconds, e.g. 60,300,1800") from None
        if not delays or any(d < 0 or d > 7 * 86_400 for d in delays):
            raise ValueError("must be one or more delays between 0 and 604800 seconds")
        return v

    @field_validator("email_backend")
    @classmethod
    def _email_backend(cls, v: str) -> str:
        v = v.lower()
        if v not in ("auto", "smtp", "resend", "sendgrid", "stub"):
            raise ValueError("must be one of auto, smtp, resend, sendgrid, stub")
        return v

    @property
    def webhook_delays(self) -> list[float]:
        return [float(d) for d in self.webhook_retry_delays.split(",") if d.strip()]
    # --- Media-stream admission (appended; see .env.example) -------------------------------
    # Sockets that have not sent a verified start yet wait in a bounded room, briefly.
    stream_start_timeout_seconds: float = Field(5.0, gt=0, le=60)
    stream_pending_limit: int = Field(32, ge=1, le=10_000)  # per process
    stream_pending_per_address: int = Field(8, ge=1, le=10_000)
    # Proxies whose X-Forwarded-For names the client (comma-separated IPs or CIDRs, or *).
    forwarded_allow_ips: str = ""
    # --- Processes and admission by measured load (appended; see .env.example) ----------
    server_workers: int = Field(1, ge=1, le=256)  # `frontdesk serve` processes on one port
    # /voice answers busy while this process's event loop is over either budget (medians over
    # the last 3 s; 0 turns one off). An idle loop lags ~1 ms and uses a few %.
    admission_max_loop_lag_ms: float = Field(100.0, ge=0, le=10_000)
    admission_max_cpu_percent: float = Field(90.0, ge=0, le=100)  # of the loop's one core

    # --- Billing and payments with Stripe (appended; see .env.example) ---------------------
    # The API base is a setting so tests (and a Stripe-compatible mock) can stand in.
    stripe_secret_key: SecretStr | None = Field(None, repr=False)
    stripe_webhook_secret: SecretStr | None = Field(None, repr=False)  # whsec_...
    stripe_api_base: str = "https://api.stripe.com"
    stripe_currency: str = Field("usd", pattern=r"^[a-z]{3}$")
    stripe_price_pro: str | None = None          # price_... of the Pro plan's monthly price
    stripe_price_enterprise: str | None = None
    billing_grace_days: int = Field(7, ge=0, le=90)  # after a failed payment or cancellation
    # API-key requests per hour per organisation, by plan ("unlimited" or a count).
    plan_api_requests_per_hour: str = Field(
        "free=100,pro=1000,enterprise=unlimited",
        pattern=r"^(free|pro|enterprise)=(\d+|unlimited)(,(free|pro|enterprise)=(\d+|unlimited))*$")

    # --- Operations (appended; see .env.example) -------------------------------------------
    # /metrics answers loopback and private-network scrapers; set, only this Bearer token.
    metrics_token: SecretStr | None = Field(None, repr=False)

    # --- Logs (appended; see .env.example) -------------------------------------------------
    log_format: str = "text"  # text | json: one JSON object a line
    access_log: bool = True  # one frontdesk.access line per /api and /console/api request

    @field_validator("log_format")
    @classmethod
    def _log_format(cls, v: str) -> str:
        v = v.lower()
        if v not in ("text", "json"):
            raise ValueError("must be text or json")
        return v
