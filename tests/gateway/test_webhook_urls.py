"""F-31 / issue 10: webhooks go to https URLs on public addresses only: no loopback,
private or link-local address, at registration and after DNS resolution at send time;
a setting allows http and loopback for local development and the simulator."""

import pytest

from relance_gateway.domain.webhook_urls import ForbiddenWebhookUrl, pinned_target, url_problem
from relance_gateway.messaging.webhooks import status_summary


@pytest.mark.parametrize("url", [
    "https://agency.example/relance/webhooks",
    "https://agency.example:8443/hooks?tenant=1",
    "https://93.184.216.34/hooks",
    "https://[2606:4700::1111]/hooks",
])
def test_f31_https_urls_on_public_hosts_are_accepted(url):
    assert url_problem(url, allow_insecure=False) is None


@pytest.mark.parametrize(("url", "said"), [
    ("http://agency.example/hooks", "https"),
    ("ftp://agency.example/hooks", "https"),
    ("https://localhost/hooks", "loopback"),
    ("https://api.localhost/hooks", "loopback"),
    ("https://127.0.0.1/hooks", "loopback"),
    ("https://[::1]/hooks", "loopback"),
    ("https://[::ffff:127.0.0.1]/hooks", "loopback"),
    ("https://10.1.2.3/hooks", "private"),
    ("https://192.168.0.10/hooks", "private"),
    ("https://172.16.5.4/hooks", "private"),
    ("https://[fd00::1]/hooks", "private"),
    ("https://169.254.169.254/latest/meta-data", "link-local"),
    ("https://[fe80::1]/hooks", "link-local"),
    ("https://0.0.0.0/hooks", "unspecified"),
    ("https://100.64.0.1/hooks", "not a public address"),
    ("https://user:pw@agency.example/hooks", "credentials"),
])
def test_f31_insecure_or_internal_urls_are_refused_with_the_reason(url, said):
    assert said in url_problem(url, allow_insecure=False)


def test_f31_the_setting_allows_http_and_loopback_but_never_private_or_link_local():
    for url in ("http://127.0.0.1:8400/webhooks", "http://localhost:8400/webhooks", "https://[::1]/h"):
        assert url_problem(url, allow_insecure=True) is None
    assert "private" in url_problem("http://10.0.0.1/hooks", allow_insecure=True)
    assert "link-local" in url_problem("http://169.254.169.254/", allow_insecure=True)
    assert "https" in url_problem("ftp://127.0.0.1/", allow_insecure=True)


def resolver(*addresses):
    async def resolve(host, port):
        return list(addresses)
    return resolve


async def test_f31_at_send_time_a_name_resolving_to_an_internal_address_is_refused():
    for address, said in [("10.0.0.7", "private"), ("127.0.0.1", "loopback"),
                          ("169.254.169.254", "link-local"), ("fe80::1%eth0", "link-local")]:
        with pytest.raises(ForbiddenWebhookUrl) as refused:
            await pinned_target("https://hooks.agency.example/in", allow_insecure=False,
                                resolve=resolver(address))
        assert said in refused.value.reason and "hooks.agency.example" in refused.value.reason
    # One bad address among good ones is enough: the connection could go to any of them.
    with pytest.raises(ForbiddenWebhookUrl):
        await pinned_target("https://hooks.agency.example/in", allow_insecure=False,
                            resolve=resolver("93.184.216.34", "10.0.0.7"))


async def test_f31_the_request_goes_to_the_checked_address_with_the_name_for_host_and_tls():
    target = await pinned_target("https://hooks.agency.example:8443/in?x=1", allow_insecure=False,
                                 resolve=resolver("93.184.216.34"))
    assert target.url == "https://93.184.216.34:8443/in?x=1"
    assert target.headers == {"Host": "hooks.agency.example:8443"}
    assert target.extensions == {"sni_hostname": "hooks.agency.example"}
    v6 = await pinned_target("https://hooks.agency.example/in", allow_insecure=False,
                             resolve=resolver("2606:4700::1111"))
    assert v6.url == "https://[2606:4700::1111]/in" and v6.headers == {"Host": "hooks.agency.example"}


async def test_f31_a_refused_url_is_refused_before_any_lookup():
    async def never(host, port):
        raise AssertionError("no lookup for a URL refused as written")
    with pytest.raises(ForbiddenWebhookUrl):
        await pinned_target("http://agency.example/hooks", allow_insecure=False, resolve=never)
    assert (await pinned_target("http://127.0.0.1:9/h", allow_insecure=True, resolve=never)).url == \
        "http://127.0.0.1:9/h"


def test_f31_a_failed_answer_is_summed_up_by_its_status_code_never_its_body():
    assert status_summary(500) == "HTTP 500 Internal Server Error"
    assert status_summary(599) == "HTTP 599"


async def test_f31_hosts_named_internal_may_resolve_to_private_addresses_never_link_local():
    internal = frozenset({"agency-simulator"})
    target = await pinned_target("http://agency-simulator:8400/webhooks", allow_insecure=True,
                                 internal_hosts=internal, resolve=resolver("172.18.0.9"))
    assert target.url == "http://172.18.0.9:8400/webhooks"
    with pytest.raises(ForbiddenWebhookUrl):
        await pinned_target("http://agency-simulator:8400/webhooks", allow_insecure=True,
                            internal_hosts=internal, resolve=resolver("169.254.169.254"))
    with pytest.raises(ForbiddenWebhookUrl):  # another name: private still refused
        await pinned_target("http://billing:8400/webhooks", allow_insecure=True,
                            internal_hosts=internal, resolve=resolver("172.18.0.10"))


def test_f31_a_failed_call_keeps_our_view_of_it_not_what_the_server_sent():
    import httpx

    from relance_gateway.messaging.webhooks import error_summary

    leaked = httpx.RemoteProtocolError("illegal header line: b'X-Secret: hunter2'")
    assert "hunter2" not in error_summary(leaked)
    assert error_summary(httpx.ReadTimeout("timed out")) == "ReadTimeout: no answer within the timeout"
    assert error_summary(httpx.ConnectError("[Errno 111] Connection refused")).startswith("ConnectError: ")
