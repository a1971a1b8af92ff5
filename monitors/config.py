"""Where adapters send their requests and with which credentials.

Every upstream base URL and credential is configurable so operators can route through a gateway
or a self-hosted RSSHub, and the simulator can stand in for every platform. The app builds one
of these from its settings; monitors/ never reads the app's settings itself.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

__all__ = ["MonitorConfig"]

MOBILE_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)
DESKTOP_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36"
)


@dataclass(frozen=True, slots=True)
class MonitorConfig:
    """Base URLs (no trailing slash) and credentials for every adapter."""

    weibo_base_url: str = "https://m.weibo.cn"
    weibo_passport_url: str = "https://passport.weibo.com"
    #: weibo.com's PC ajax API, asked only to confirm m.weibo.cn's ambiguous "no content".
    weibo_pc_base_url: str = "https://weibo.com"
    weibo_cookie: str | None = None
    douyin_base_url: str = "https://www.douyin.com"
    douyin_cookie: str | None = None
    wechat_base_url: str = "https://mp.weixin.qq.com"
    wechat_cookie: str | None = None
    wechat_token: str | None = None
    appstore_base_url: str = "https://itunes.apple.com"
    appstore_country: str = "cn"
    huawei_base_url: str = "https://web-drcn.hispace.dbankcloud.cn"
    xiaomi_base_url: str = "https://app.mi.com"
    yyb_base_url: str = "https://upage.html5.qq.com"
    rsshub_url: str | None = None
    #: RSSHub route (path, ``{biz}`` is replaced) the wechat adapter reads when rsshub_url is
    #: set. /wechat/feeds/:id is the only built-in route keyed by __biz alone; its upstream
    #: (wechat-feeds) stopped updating, so point this at a live bridge where you have one.
    wechat_rsshub_route: str = "/wechat/feeds/{biz}"
    website_timeout_s: float = 15.0
    mobile_user_agent: str = MOBILE_UA
    desktop_user_agent: str = DESKTOP_UA

    def with_base(self, base: str) -> MonitorConfig:
        """Point every platform at one host (the simulator), keeping credentials.

        The simulator serves each platform under its own path prefix, e.g. ``{base}/weibo``.
        """
        base = base.rstrip("/")
        return replace(
            self,
            weibo_base_url=f"{base}/weibo",
            weibo_passport_url=f"{base}/weibo-passport",
            weibo_pc_base_url=f"{base}/weibo-pc",
            douyin_base_url=f"{base}/douyin",
            wechat_base_url=f"{base}/wechat",
            appstore_base_url=f"{base}/appstore",
            huawei_base_url=f"{base}/huawei",
            xiaomi_base_url=f"{base}/xiaomi",
            yyb_base_url=f"{base}/yyb",
            rsshub_url=f"{base}/rsshub",
        )
