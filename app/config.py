"""The service's settings: one class, read from ``LIVENESS_*`` environment variables or ``.env``."""

from __future__ import annotations

import json
import re
from functools import lru_cache
from ipaddress import IPv4Network, IPv6Network
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from monitors import MonitorConfig

__all__ = ["Settings", "get_settings"]

# A metrics token: RFC 6750's b64token characters, long enough not to be guessed.
_TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
_MIN_TOKEN = 16


class Settings(BaseSettings):
    """Every setting the service reads. README.md has a table of them; keep the two in step."""

    # Errors never echo what was given: tokens, cookies and database passwords are among it.
    model_config = SettingsConfigDict(
        env_prefix="LIVENESS_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        hide_input_in_errors=True,
    )

    database_url: str = Field(
        default=f"sqlite+aiosqlite:///{Path.cwd() / 'liveness.db'}",
        description="SQLAlchemy URL; sqlite+aiosqlite:///file.db or postgresql+psycopg://…",
    )
    host: str = Field(default="127.0.0.1", description="Address `liveness serve` listens on.")
    port: int = Field(default=8000, ge=1, le=65535, description="Port `liveness serve` listens on.")
    log_level: str = Field(default="info", description="Log level (debug, info, warning, error).")
    sqlite_busy_timeout_ms: int = Field(
        default=5000, ge=5000, description="How long a SQLite writer waits for the lock (≥ 5 s)."
    )
    max_upload_bytes: int = Field(
        default=10 * 1024 * 1024, ge=1024, description="Largest accepted import file."
    )
    import_max_rows: int = Field(
        default=200_000, ge=1, description="Most rows an imported sheet may have below its header."
    )
    import_max_columns: int = Field(
        default=100, ge=11, description="Most columns a row of an imported sheet may span."
    )
    import_max_cell_chars: int = Field(
        default=32_767,
        ge=2048,  # the longest handle
        le=131_072,  # the csv module's own cap
        description="Longest cell of an imported sheet, in characters (Excel's own limit).",
    )
    import_max_unzipped_bytes: int = Field(
        default=256 * 1024 * 1024,
        ge=1024 * 1024,
        description="Most bytes an imported XLSX may unzip to (its members' declared sizes).",
    )
    page_size_max: int = Field(default=500, ge=1, description="Largest `limit` on list routes.")
    auto_migrate: bool = Field(
        default=True, description="`liveness serve` upgrades a SQLite database at start."
    )

    # Scheduling and execution (DESIGN §9).
    executor: Literal["inline", "procrastinate"] = Field(
        default="inline",
        description="inline: checks run inside `liveness serve`; procrastinate: workers run them.",
    )
    policy: str = Field(
        default="national",
        description="Flag policy: a preset (national, guizhou-2025, beijing-2019) or a TOML file.",
    )
    scheduler_enabled: bool = Field(
        default=True,
        description="`liveness serve` runs the scheduler (inline executor only).",
    )
    check_interval_s: int = Field(
        default=21600, ge=10, description="Default time between two checks of one account."
    )
    check_intervals: dict[str, int] = Field(
        default_factory=dict,
        description='Per-platform intervals in seconds, JSON, e.g. {"website": 3600}.',
    )
    check_jitter: float = Field(
        default=0.05, ge=0, le=0.5, description="Random spread added to each interval (fraction)."
    )
    gone_confirm_delay_s: int = Field(
        default=3600, ge=1, description="A gone answer is re-checked after this long to confirm."
    )
    unknown_backoff_s: int = Field(
        default=300, ge=1, description="First re-check delay after an unknown outcome; doubles."
    )
    claim_interval_s: float = Field(
        default=5.0, gt=0, description="How often the scheduler claims due accounts."
    )
    claim_batch: int = Field(default=500, ge=1, description="Most accounts claimed per tick.")
    lease_s: int = Field(
        default=300, ge=10, description="A claimed account is due again if not checked by then."
    )
    max_concurrency: int = Field(default=100, ge=1, description="Checks in flight per process.")
    platform_concurrency: dict[str, int] = Field(
        default_factory=dict, description="Per-platform checks in flight, JSON (default 20)."
    )
    platform_rates: dict[str, float] = Field(
        default_factory=dict,
        description="Per-platform requests per second (token bucket), JSON (default 10).",
    )
    http_max_connections: int = Field(default=200, ge=1, description="Upstream connection pool.")
    check_retention_days: int = Field(
        default=90, ge=1, description="Check rows older than this are deleted; snapshots stay."
    )
    canaries: dict[str, dict[str, str]] = Field(
        default_factory=dict,
        description="Per platform a known-alive and a known-absent handle, JSON: "
        '{"weibo": {"alive": "1234567890", "absent": "1000000001"}}.',
    )

    # Metrics (DESIGN §10).
    metrics_per_account: bool = Field(
        default=True,
        description="Per-account series on /metrics (last post, last check, info, open flags); "
        "turn off for very large registries.",
    )
    metrics_require_key: bool = Field(
        default=False,
        description="/metrics needs a bearer key without a region scope (open by default).",
    )
    metrics_token: SecretStr | None = Field(
        default=None,
        description="/metrics on the API, the scheduler and the workers needs "
        "`Authorization: Bearer <token>` (open when unset; at least 16 visible ASCII characters).",
    )
    metrics_token_file: Path | None = Field(
        default=None,
        description="Read LIVENESS_METRICS_TOKEN from this file (a Docker secret); empty: unset.",
    )
    metrics_host: str = Field(
        default="127.0.0.1", description="Address the scheduler's and workers' /metrics listen on."
    )
    build_revision: str = Field(
        default="unknown", description="Source revision shown in liveness_build_info."
    )

    # Webhooks (DESIGN §8).
    webhook_allow_private: bool = Field(
        default=False,
        description="Allow webhook URLs resolving to loopback, private or metadata addresses.",
    )
    webhook_timeout_s: float = Field(
        default=15.0, gt=0, le=60, description="A webhook delivery fails after this long."
    )
    webhook_lease_s: int = Field(
        default=60, ge=2, description="A delivery being sent is retried by others after this."
    )
    webhook_interval_s: float = Field(
        default=1.0, gt=0, description="How often due webhook deliveries are looked for."
    )
    webhook_concurrency: int = Field(
        default=20, ge=1, description="Webhook deliveries in flight per process."
    )
    webhook_retry_window_s: int = Field(
        default=3 * 86400, ge=60, description="Retries stop (and the endpoint is disabled) after."
    )
    webhook_rotation_s: int = Field(
        default=86400, ge=0, description="After a secret rotation the old one also signs this long."
    )

    # Upstreams: every base URL and credential is a setting (DESIGN §4.3).
    simulator_url: str | None = Field(
        default=None, description="Point every platform at the bundled simulator at this URL."
    )
    weibo_base_url: str = "https://m.weibo.cn"
    weibo_passport_url: str = "https://passport.weibo.com"
    weibo_pc_base_url: str = "https://weibo.com"
    weibo_cookie: SecretStr | None = None
    douyin_base_url: str = "https://www.douyin.com"
    douyin_cookie: SecretStr | None = None
    wechat_base_url: str = "https://mp.weixin.qq.com"
    wechat_cookie: SecretStr | None = None
    wechat_token: SecretStr | None = None
    appstore_base_url: str = "https://itunes.apple.com"
    appstore_country: str = "cn"
    huawei_base_url: str = "https://web-drcn.hispace.dbankcloud.cn"
    xiaomi_base_url: str = "https://app.mi.com"
    yyb_base_url: str = "https://upage.html5.qq.com"
    rsshub_url: str | None = None
    wechat_rsshub_route: str = "/wechat/feeds/{biz}"
    trusted_upstreams: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Upstreams of yours the egress guard does not check, as URLs or host[:port], "
        "comma-separated: a self-hosted RSSHub or a gateway on a private address (the "
        "simulator at LIVENESS_SIMULATOR_URL is trusted without it).",
    )
    monitor_allowed_networks: Annotated[list[IPv4Network | IPv6Network], NoDecode] = Field(
        default_factory=list,
        description="Networks (CIDRs, comma-separated) monitored sites and feeds may be on "
        "though private, e.g. a government intranet (电子政务外网); empty: public only.",
    )
    website_timeout_s: float = Field(default=15.0, gt=0, description="Inspection rule: 15 s.")
    http_timeout_s: float = Field(
        default=20.0, gt=0, description="Overall timeout of one upstream request."
    )

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, url: str) -> str:
        """Accept the plain forms operators type and pick the async drivers we ship."""
        if url.startswith("sqlite:///"):
            return "sqlite+aiosqlite:///" + url.removeprefix("sqlite:///")
        for plain in ("postgresql://", "postgres://"):
            if url.startswith(plain):
                return "postgresql+psycopg://" + url.removeprefix(plain)
        if not url.startswith(("sqlite+aiosqlite://", "postgresql+psycopg://")):
            raise ValueError(
                "LIVENESS_DATABASE_URL must start with sqlite+aiosqlite:/// or postgresql+psycopg://"
            )
        return url

    @field_validator("trusted_upstreams", "monitor_allowed_networks", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        """Read a list from the environment as a JSON array or as comma-separated text."""
        if not isinstance(value, str):
            return value
        if value.lstrip().startswith("["):
            return json.loads(value)
        return [item.strip() for item in value.split(",") if item.strip()]

    @field_validator("trusted_upstreams")
    @classmethod
    def _hosts_named(cls, entries: list[str]) -> list[str]:
        """Each entry must name a host, so a typo is refused at start."""
        for entry in entries:
            if not urlsplit(entry if "//" in entry else f"//{entry}").hostname:
                raise ValueError(f"{entry!r} names no host")
        return entries

    @field_validator("policy")
    @classmethod
    def _known_policy(cls, name: str) -> str:
        """Refuse a policy that cannot be loaded at start, not at the first check."""
        from app.flags.policy import load_policy

        load_policy(name)
        return name

    @field_validator("metrics_token", mode="before")
    @classmethod
    def _usable_token(cls, value: object) -> object:
        """An empty token is no token (compose passes unset variables as ""); a set one is a
        bearer credential long enough not to be guessed (RFC 6750 token characters)."""
        raw = value.get_secret_value() if isinstance(value, SecretStr) else value
        if not isinstance(raw, str):
            return value
        raw = raw.strip()
        if not raw:
            return None
        if len(raw) < _MIN_TOKEN or not _TOKEN.fullmatch(raw):
            raise ValueError(
                f"LIVENESS_METRICS_TOKEN must be at least {_MIN_TOKEN} visible ASCII characters "
                "without spaces (make one with `openssl rand -hex 32`)"
            )
        return raw

    @model_validator(mode="after")
    def _token_from_file(self) -> Settings:
        """LIVENESS_METRICS_TOKEN_FILE holds the token, for secrets mounted as files."""
        if self.metrics_token_file is None:
            return self
        if self.metrics_token is not None:
            raise ValueError("set LIVENESS_METRICS_TOKEN or LIVENESS_METRICS_TOKEN_FILE, not both")
        try:
            text = self.metrics_token_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ValueError(
                f"LIVENESS_METRICS_TOKEN_FILE {self.metrics_token_file}: {exc.__class__.__name__}"
            ) from None
        token = self._usable_token(text)
        self.metrics_token = SecretStr(token) if isinstance(token, str) else None
        return self

    @model_validator(mode="after")
    def _lease_outlasts_timeout(self) -> Settings:
        """A delivery lease shorter than its timeout would let two processes send it."""
        if self.webhook_lease_s <= self.webhook_timeout_s:
            raise ValueError("LIVENESS_WEBHOOK_LEASE_S must exceed LIVENESS_WEBHOOK_TIMEOUT_S")
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def interval_for(self, platform: str) -> int:
        """The check interval of ``platform`` in seconds."""
        return self.check_intervals.get(platform, self.check_interval_s)

    def concurrency_for(self, platform: str) -> int:
        """How many checks of ``platform`` may run at once in one process."""
        return self.platform_concurrency.get(platform, 20)

    def rate_for(self, platform: str) -> float:
        """Requests per second allowed to ``platform`` from one process."""
        return self.platform_rates.get(platform, 10.0)

    def monitor_config(self) -> MonitorConfig:
        """The adapters' configuration; the simulator URL, when set, overrides every base URL."""

        def secret(value: SecretStr | None) -> str | None:
            return value.get_secret_value() if value is not None else None

        config = MonitorConfig(
            weibo_base_url=self.weibo_base_url,
            weibo_passport_url=self.weibo_passport_url,
            weibo_pc_base_url=self.weibo_pc_base_url,
            weibo_cookie=secret(self.weibo_cookie),
            douyin_base_url=self.douyin_base_url,
            douyin_cookie=secret(self.douyin_cookie),
            wechat_base_url=self.wechat_base_url,
            wechat_cookie=secret(self.wechat_cookie),
            wechat_token=secret(self.wechat_token),
            appstore_base_url=self.appstore_base_url,
            appstore_country=self.appstore_country,
            huawei_base_url=self.huawei_base_url,
            xiaomi_base_url=self.xiaomi_base_url,
            yyb_base_url=self.yyb_base_url,
            rsshub_url=self.rsshub_url,
            wechat_rsshub_route=self.wechat_rsshub_route,
            website_timeout_s=self.website_timeout_s,
        )
        return config.with_base(self.simulator_url) if self.simulator_url else config


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
