"""Every setting of the service, read from environment variables in one typed place.

The variable for a field is its name in upper case (``database_url`` -> ``DATABASE_URL``).
"""

from __future__ import annotations

import base64
import functools
import ipaddress
import os
from collections.abc import Mapping
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec

SECRET_FIELDS = frozenset(
    {
        "database_url",
        "database_replica_url",
        "secret_key",
        "wechat_secret",
        "session_key_cipher_key",
        "wechat_pay_private_key",
        "wechat_pay_apiv3_key",
        "operator_api_key",
        "wechat_message_token",
        "wechat_message_aes_key",
        "media_s3_secret_access_key",
    }
)

Port = Annotated[int, msgspec.Meta(ge=0, le=65535)]
Positive = Annotated[int, msgspec.Meta(ge=1)]


class SettingsError(ValueError):
    """A setting is missing or invalid; the message names the environment variable."""


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    environment: Literal["development", "test", "production"] = "development"
    # Unset outside production: `make run` and `make test` start an embedded PostgreSQL.
    database_url: str | None = None
    db_pool_min: Annotated[int, msgspec.Meta(ge=0)] = 2
    db_pool_max: Positive = 10
    db_command_timeout: Annotated[float, msgspec.Meta(gt=0)] = 10.0
    migrate_on_start: bool = False
    # A streaming replica (hot standby) of DATABASE_URL: the feed's shared pages, search and metrics read from it
    # while it is at most REPLICA_MAX_LAG seconds behind the primary, else from the primary (infra/README.md).
    database_replica_url: str | None = None
    replica_max_lag: Annotated[float, msgspec.Meta(gt=0, le=60)] = 1.0

    host: str = "127.0.0.1"
    port: Port = 8000
    workers: Positive = 1
    # On SIGTERM, seconds the instance keeps serving while /readyz answers 503, so the proxy's health check
    # takes it out of rotation before it stops listening (service/serving.py); 0 stops at once. Behind Caddy
    # (infra/Caddyfile checks /readyz every second): 3.
    shutdown_drain_seconds: Annotated[float, msgspec.Meta(ge=0, le=120)] = 0.0
    public_base_url: str = "http://127.0.0.1:8000"
    max_body_bytes: Positive = 1_048_576
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["json", "text"] = "json"
    access_log: bool = True

    # Signs access tokens; required in production, a persisted random key in development.
    secret_key: str | None = None
    access_token_ttl: Positive = 900
    refresh_token_ttl: Positive = 30 * 24 * 3600

    # WeChat: the real hosts in production, the built-in sandbox when no credentials are set.
    wechat_appid: str | None = None
    wechat_secret: str | None = None
    wechat_api_base: str = "https://api.weixin.qq.com"
    wechat_timeout: Annotated[float, msgspec.Meta(gt=0)] = 5.0
    sandbox_host: str = "127.0.0.1"
    sandbox_port: Port = 8900
    # Encrypts session keys at rest (urlsafe base64 of 32 bytes); derived from secret_key when unset.
    session_key_cipher_key: str | None = None

    # Auth and WeChat (issue 3): login, sessions, the WeChat client and its sandbox.
    # Fixed, documented credentials shared by the API and the sandbox when WECHAT_APPID is unset.
    sandbox_appid: str = "wxsandbox0000000001"
    sandbox_secret: str = "sandbox-secret-not-for-production"
    # Words the sandbox's msg_sec_check flags: comma separated, `word` or `word:label` (label default 21000).
    sandbox_risky_words: str = "sandbox-risky,赌博:20006"
    sandbox_review_words: str = "sandbox-review"
    # Retries of a WeChat call after a network error or errcode -1 (system busy), and the Retry-After we
    # answer with when WeChat stays unavailable.
    wechat_retries: Annotated[int, msgspec.Meta(ge=0, le=5)] = 2
    wechat_retry_after: Positive = 5
    # The shared access token is refreshed this many seconds before it expires. Keep it under 300: WeChat hands
    # out a new token only in the last 5 minutes, earlier it answers the same token again.
    wechat_token_margin: Annotated[int, msgspec.Meta(ge=0, le=300)] = 240
    # Login attempts allowed per client address and per code in each window of login_rate_window seconds.
    login_rate_per_address: Positive = 30
    login_rate_per_code: Positive = 3
    login_rate_window: Positive = 60
    # Peers whose X-Forwarded-For is believed (comma-separated addresses or CIDRs: Caddy, the ingress); none by
    # default, so the login limit keys on the TCP peer. See docs/security.md.
    trusted_proxies: str = ""
    # Posts and comments one member may write, in all communities together, per write_rate_window seconds
    # (on top of the newcomer limits): a flood is refused with 429 before it reaches WeChat's content check.
    write_rate_posts: Positive = 10
    write_rate_comments: Positive = 30
    write_rate_window: Positive = 60
    # Communities one user may create, and invite links one member may create (all communities together), per
    # create_rate_window seconds: 100 of each in a second were accepted.
    create_rate_communities: Positive = 10
    create_rate_invites: Positive = 30
    create_rate_window: Positive = 3600
    # Searches one member may run per minute, in all communities together: a search costs about 70 ms of database
    # time (docs/search.md), so one member's loop must not take the database from everyone else.
    search_per_minute: Positive = 30
    # Phone bindings (POST /v1/auth/phone) one member may attempt per hour: WeChat charges per getPhoneNumber call,
    # so refused attempts never reach it.
    phone_binds_per_hour: Positive = 10
    # Checkout: WeChat Pay v3 (service/wechat/pay/). `make run` without WECHAT_PAY_MCHID sets these to the Pay
    # sandbox's merchant (keys kept in .data/pay-sandbox); production requires a real merchant.
    wechat_pay_mchid: str | None = None
    wechat_pay_merchant_serial: str | None = None  # serial of the merchant API certificate
    wechat_pay_private_key: str | None = None  # merchant API private key: PEM text or path of the PEM file
    wechat_pay_apiv3_key: str | None = None  # the 32-character APIv3 key
    wechat_pay_public_key: str | None = None  # public-key mode: WeChat Pay public key, PEM text or path
    wechat_pay_public_key_id: str | None = None  # public-key mode: its id, PUB_KEY_ID_...
    wechat_pay_platform_certs: str | None = None  # certificate mode: comma-separated platform certificate PEMs
    wechat_pay_api_base: str | None = None  # default: the real gateway with a merchant, else the sandbox
    wechat_pay_notify_base_url: str | None = None  # where WeChat reaches /v1/pay/*; default PUBLIC_BASE_URL
    wechat_pay_transfer_scene_id: str = "1000"
    wechat_pay_max_age: Positive = 300  # reject notifications and answers signed further than this from now
    checkout_order_ttl: Annotated[int, msgspec.Meta(ge=60, le=7200)] = 900  # time_expire of an order, seconds
    checkout_refund_window: Annotated[int, msgspec.Meta(ge=0)] = 72 * 3600  # a payer may ask for a refund
    checkout_reconcile_after: Annotated[int, msgspec.Meta(ge=0)] = 120  # query WeChat when no notification
    # Jobs (service/jobs): the worker's poll interval, lease and parallelism.
    jobs_poll_interval: Annotated[float, msgspec.Meta(gt=0)] = 1.0
    jobs_lease: Annotated[int, msgspec.Meta(ge=1)] = 60
    jobs_concurrency: Positive = 4
    # Interactions, metrics and rewards (see docs/metrics.md).
    metrics_timezone: str = "Asia/Shanghai"
    presence_gap_seconds: Positive = 90
    event_batch_max: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 100
    event_max_age_days: Positive = 7
    event_retention_months: Positive = 13
    # Activity score = sum of weight x metric; contribution = sum of weight x member input.
    weight_effective_speakers: float = 10.0
    weight_valid_comments: float = 2.0
    weight_average_posts_viewed: float = 5.0
    weight_effective_page_views: float = 0.5
    weight_average_online_minutes: float = 1.0
    weight_peak_concurrent_users: float = 3.0
    weight_new_members: float = 5.0
    contribution_valid_post: float = 5.0
    contribution_valid_comment: float = 2.0
    contribution_comment_received: float = 1.0
    contribution_like_received: float = 1.0
    contribution_participation: float = 2.0
    # The platform operator: callers presenting this key in X-Operator-Key (reward pools).
    operator_api_key: str | None = None
    # Feed and robots (docs/feed.md).
    post_edit_window: Annotated[int, msgspec.Meta(ge=0, le=86400)] = 900  # seconds an author may edit a post
    # Seconds each API process keeps a community feed page as everyone sees it (service/feed/cache.py); 0: off.
    feed_cache_seconds: Annotated[float, msgspec.Meta(ge=0, le=60)] = 1.0
    # Newcomer limits (Discourse-like): during their first NEWCOMER_HOURS in a community, plain members write
    # at most this many posts and comments, and at most NEWCOMER_MAX_LINKS links in one post or comment.
    newcomer_hours: Annotated[int, msgspec.Meta(ge=0, le=720)] = 24
    newcomer_max_posts: Annotated[int, msgspec.Meta(ge=0)] = 3
    newcomer_max_comments: Annotated[int, msgspec.Meta(ge=0)] = 10
    newcomer_max_links: Annotated[int, msgspec.Meta(ge=0)] = 2
    # The subscribe-message template for "someone commented on your post / replied to your comment" (thing1:
    # post excerpt, thing2: who, thing3: comment excerpt, time4: when) and the page it opens.
    notify_template_id: str = "sandbox-comment-template"
    notify_page: str = "pages/post/detail"
    # Mentions (docs/safety.md): how many members one post or comment may mention, and the subscribe message that
    # tells a mentioned member (thing1: who, thing2: excerpt, time3: when; it opens NOTIFY_PAGE).
    max_mentions: Annotated[int, msgspec.Meta(ge=0, le=100)] = 10
    mention_template_id: str = "sandbox-mention-template"
    # Blocking (docs/safety.md): how many members one member may block.
    max_blocks: Annotated[int, msgspec.Meta(ge=1, le=100_000)] = 1000
    # Moderation: distinct reporters that hide a post or comment until a moderator decides; the subscribe
    # message that tells authors and reporters the outcome, and the page it opens.
    # Read inbox items are kept this many days, then purged; unread ones this many days after they arrived (a likes
    # item: after its latest like), so an inbox nobody reads does not grow for ever.
    inbox_keep_days: Annotated[int, msgspec.Meta(ge=1, le=3650)] = 30
    inbox_unread_keep_days: Annotated[int, msgspec.Meta(ge=1, le=3650)] = 90
    report_hide_threshold: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 3
    # Live updates (GET /v1/live, docs/live.md): sockets per member and API process (WeChat opens at most 5; a
    # 6th closes the member's oldest), the app-level ping interval, and the events a socket may have queued
    # before it counts as a slow consumer and is closed.
    live_sockets_per_user: Annotated[int, msgspec.Meta(ge=1, le=100)] = 5
    live_ping_seconds: Annotated[float, msgspec.Meta(gt=0, le=300)] = 25.0
    live_queue_size: Annotated[int, msgspec.Meta(ge=1, le=10000)] = 100
    moderation_template_id: str = "sandbox-moderation-result"
    moderation_page: str = "pages/moderation/result"
    # Account deletion (docs/privacy.md): days of cooling-off before the erasure (a login cancels it); exports of
    # my data a member may take per day.
    account_deletion_days: Annotated[int, msgspec.Meta(ge=0, le=90)] = 7
    export_rate_per_day: Annotated[int, msgspec.Meta(ge=1, le=100)] = 3
    # Customer-service message push (POST /v1/wechat/messages): the token and EncodingAESKey set in WeChat's
    # console; unset, the sandbox's documented pair is used outside production (in production the push is refused).
    wechat_message_token: str | None = None
    wechat_message_aes_key: str | None = None
    sandbox_message_token: str = "sandbox-message-token"
    sandbox_message_aes_key: str = "c2FuZGJveC1tZXNzYWdlLXB1c2gtYWVzLWtleS0zMmI"
    # Customer-service messages are answered by the keyword rules of this community (none: no answers).
    customer_service_community_id: Annotated[int, msgspec.Meta(ge=1)] | None = None
    # Group collections (service/collections): how long participants have to pay, by default and at most.
    collection_default_hours: Annotated[int, msgspec.Meta(ge=1, le=720)] = 24
    collection_max_hours: Annotated[int, msgspec.Meta(ge=1, le=720)] = 168
    # Operating a community (issue 9): theme activities, meetups, the warm-up robot, community apps.
    activities_horizon_days: Annotated[int, msgspec.Meta(ge=3, le=90)] = 14  # occurrences generated ahead
    meetups_checkin_opens_before: Annotated[int, msgspec.Meta(ge=0)] = 3600  # venue check-in opens before start
    meetups_qr_ttl: Annotated[int, msgspec.Meta(ge=30, le=86400)] = 300  # a venue QR payload's life, seconds
    meetups_reminder_lead: Annotated[int, msgspec.Meta(ge=60)] = 2 * 3600  # remind this long before the start
    meetups_promotion_hold: Annotated[int, msgspec.Meta(ge=60)] = 1800  # a promoted paid signup's time to pay
    meetups_reminder_template_id: str = "sandbox-meetup-reminder"  # subscribe-message templates
    meetups_promotion_template_id: str = "sandbox-meetup-promotion"
    apps_expiry_reminder_lead: Annotated[int, msgspec.Meta(ge=3600)] = 3 * 86400  # remind before a paid app ends
    apps_expiry_template_id: str = "sandbox-app-expiry"
    # Photos (service/media, docs/media.md). Storage: a local folder served by the app under signed URLs, or an
    # S3-compatible bucket (Tencent COS, MinIO, AWS) when MEDIA_S3_BUCKET is set.
    media_dir: str = ".data/media"
    media_s3_bucket: str | None = None
    media_s3_endpoint: str | None = None  # e.g. https://cos.ap-shanghai.myqcloud.com; unset: AWS
    media_s3_region: str = "us-east-1"
    media_s3_access_key_id: str | None = None
    media_s3_secret_access_key: str | None = None
    media_url_ttl: Annotated[int, msgspec.Meta(ge=1, le=7 * 86400)] = 3600  # signed display URLs live this long
    media_max_bytes: Annotated[int, msgspec.Meta(ge=1024, le=10 * 1024 * 1024)] = 10 * 1024 * 1024  # WeChat's limit
    media_max_pixels: Annotated[int, msgspec.Meta(ge=10_000)] = 50_000_000  # larger images are never decoded
    media_uploads_per_minute: Annotated[int, msgspec.Meta(ge=1)] = 30
    media_uploads_per_day: Annotated[int, msgspec.Meta(ge=1)] = 300
    # Photos decoded at once per API process: one keeps a core free for the process's event loop (the feed's p99
    # while uploads run: benchmarks/media.py); more processes (WORKERS) decode more at once.
    media_decoders: Annotated[int, msgspec.Meta(ge=1, le=32)] = 1
    media_check_resubmit_after: Annotated[int, msgspec.Meta(ge=0)] = 1800  # a verdict that never came is asked again
    media_check_max_attempts: Annotated[int, msgspec.Meta(ge=1)] = 5
    media_unattached_hours: Annotated[int, msgspec.Meta(ge=1)] = 24  # uploads never used are deleted after this
    # The sandbox's image check: the verdict is pushed to PUBLIC_BASE_URL/v1/wechat/messages after this delay.
    sandbox_media_check_delay: Annotated[float, msgspec.Meta(ge=0)] = 1.0
    # Growth: public share previews allowed per client address and minute; the referral score of a member per
    # credited referral, in the member tier of reward pools (docs/growth.md).
    share_previews_per_minute: Annotated[int, msgspec.Meta(ge=1)] = 60
    # Group opens of shares (POST /v1/shares/{code}/group-opens) one member may record per minute, forged ones too.
    share_group_opens_per_minute: Annotated[int, msgspec.Meta(ge=1)] = 30
    contribution_referral: float = 10.0
    # The mini-program page an invite poster's code opens; it reads `<community id>.<invite code>` from `scene`.
    invite_page: str = "pages/join/index"

    def __post_init__(self) -> None:
        if self.db_pool_min > self.db_pool_max:
            raise SettingsError("DB_POOL_MIN must not exceed DB_POOL_MAX")
        if self.environment == "production":
            for name in ("database_url", "secret_key", "wechat_appid", "wechat_secret"):
                if not getattr(self, name):
                    raise SettingsError(f"{name.upper()} is required when ENVIRONMENT=production")
        if self.secret_key is not None and len(self.secret_key) < 32:
            raise SettingsError("SECRET_KEY must be at least 32 characters")
        if self.operator_api_key is not None and len(self.operator_api_key) < 32:
            raise SettingsError("OPERATOR_API_KEY must be at least 32 characters")
        try:
            ZoneInfo(self.metrics_timezone)
        except (ValueError, ZoneInfoNotFoundError):
            raise SettingsError(f"METRICS_TIMEZONE: unknown time zone {self.metrics_timezone!r}") from None
        if self.collection_default_hours > self.collection_max_hours:
            raise SettingsError("COLLECTION_DEFAULT_HOURS must not exceed COLLECTION_MAX_HOURS")
        if bool(self.wechat_appid) != bool(self.wechat_secret):
            raise SettingsError("WECHAT_APPID and WECHAT_SECRET must be set together")
        try:
            proxy_networks(self.trusted_proxies)
        except ValueError as exc:
            raise SettingsError(f"TRUSTED_PROXIES: {exc}") from None
        for name in ("wechat_message_aes_key", "sandbox_message_aes_key"):
            key = getattr(self, name)
            if key is not None and not _is_encoding_aes_key(key):
                raise SettingsError(f"{name.upper()} must be 43 characters of base64 (WeChat's EncodingAESKey)")

    @property
    def message_push_keys(self) -> tuple[str, str] | None:
        """The message-push token and EncodingAESKey: the configured pair, else the sandbox's outside
        production; None in production without a pair (the push endpoint then refuses every call)."""
        if self.wechat_message_token and self.wechat_message_aes_key:
            return self.wechat_message_token, self.wechat_message_aes_key
        if self.environment == "production":
            return None
        return self.sandbox_message_token, self.sandbox_message_aes_key

    @property
    def uses_wechat_sandbox(self) -> bool:
        return not self.wechat_appid

    @property
    def wechat_credentials(self) -> tuple[str, str]:
        """The appid and secret the API uses: the configured pair, else the sandbox's fixed pair."""
        if self.wechat_appid and self.wechat_secret:
            return self.wechat_appid, self.wechat_secret
        return self.sandbox_appid, self.sandbox_secret

    def __repr__(self) -> str:
        shown = (
            f"{name}={'***' if name in SECRET_FIELDS and value else repr(value)}"
            for name, value in msgspec.structs.asdict(self).items()
        )
        return f"Settings({', '.join(shown)})"

    __str__ = __repr__


@functools.cache
def proxy_networks(value: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """TRUSTED_PROXIES as networks (an address alone is a /32 or /128); ValueError names a bad entry."""
    return tuple(ipaddress.ip_network(part.strip(), strict=False) for part in value.split(",") if part.strip())


def _is_encoding_aes_key(key: str) -> bool:
    try:
        return len(key) == 43 and len(base64.b64decode(key + "=", validate=True)) == 32
    except ValueError:
        return False


def load_settings(environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
    """Build Settings from the environment; ``overrides`` win (tests, CLI defaults)."""
    environ = os.environ if environ is None else environ
    raw: dict[str, object] = {}
    for name in Settings.__struct_fields__:
        value = environ.get(name.upper())
        if value is not None and value != "":
            raw[name] = value
    raw.update(overrides)
    try:
        return msgspec.convert(raw, Settings, strict=False)
    except msgspec.ValidationError as exc:
        raise SettingsError(_name_variable(str(exc))) from None


def _name_variable(message: str) -> str:
    # msgspec says "... - at `$.db_pool_max`"; speak of the environment variable instead.
    head, sep, path = message.rpartition(" - at `$.")
    if not sep:
        return message
    return f"{path.rstrip('`').upper()}: {head}"
