"""The WeChat Pay v3 client and the Pay sandbox, checked against wechatpayv3 as an independent implementation."""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import NameOID
from wechatpayv3 import utils as v3utils
from wechatpayv3.core import Core

from service.wechat import pay as wxpay
from service.wechat.pay import PayError, WeChatPay, pay_config, private_pem, public_pem
from service.wechat.sandbox.keys import SandboxKeys, load_dev_keys
from tests.checkout.conftest import world_settings
from tests.support import http_client


@pytest.fixture
async def client(database_url, sandbox_url, sandbox_keys):
    settings = world_settings(database_url, "http://127.0.0.1:9", sandbox_url, sandbox_keys)
    async with http_client(timeout=10) as http:
        yield WeChatPay.from_settings(settings, http)


def v3core(keys: SandboxKeys) -> Core:
    """wechatpayv3 set up in public-key mode with the same keys (it never reaches a network here)."""
    return Core(
        mchid=keys.mchid,
        cert_serial_no=keys.merchant_serial,
        private_key=private_pem(keys.merchant_key),
        apiv3_key=keys.apiv3_key,
        public_key=public_pem(keys.platform_key.public_key()),
        public_key_id=keys.public_key_id,
    )


def expire_in(minutes: int = 15) -> datetime:
    return datetime.now(UTC) + timedelta(minutes=minutes)


def test_request_signature_is_the_one_wechatpayv3_computes(sandbox_keys):
    body = b'{"mchid":"1900000109","out_trade_no":"CK1"}'
    header = wxpay.authorization_header(
        mchid=sandbox_keys.mchid,
        serial=sandbox_keys.merchant_serial,
        private_key=sandbox_keys.merchant_key,
        method="POST",
        url="/v3/pay/transactions/jsapi",
        body=body,
        timestamp="1700000000",
        nonce="NONCE123",
    )
    fields = wxpay.parse_authorization(header)
    expected = v3utils.rsa_sign(
        sandbox_keys.merchant_key, f"POST\n/v3/pay/transactions/jsapi\n1700000000\nNONCE123\n{body.decode()}\n"
    )
    assert fields["signature"] == expected
    assert fields["mchid"] == sandbox_keys.mchid and fields["serial_no"] == sandbox_keys.merchant_serial


def test_pay_sign_is_the_one_wechatpayv3_computes(sandbox_keys):
    pay = WeChatPay(pay_config(world_settings("postgresql://x/y", "http://a", "http://b", sandbox_keys)), None)
    params = pay.payment_params("wx201410272009395522657a690389285100")
    core = v3core(sandbox_keys)
    assert params["package"] == "prepay_id=wx201410272009395522657a690389285100"
    assert params["signType"] == "RSA"
    assert params["paySign"] == core.sign(
        [sandbox_keys.appid, params["timeStamp"], params["nonceStr"], params["package"]]
    )


def test_resource_encryption_is_what_wechatpayv3_decrypts(sandbox_keys):
    resource = wxpay.aes_gcm_encrypt(sandbox_keys.apiv3_key.encode(), b'{"a":1}', "transaction")
    plain = v3utils.aes_decrypt(
        resource["nonce"], resource["ciphertext"], resource["associated_data"], sandbox_keys.apiv3_key
    )
    assert plain == '{"a":1}'
    assert v3utils.aes_decrypt(resource["nonce"], resource["ciphertext"], "refund", sandbox_keys.apiv3_key) is None


async def test_sandbox_accepts_requests_signed_by_wechatpayv3(sandbox_url, sandbox_keys):
    payload = {
        "appid": sandbox_keys.appid,
        "mchid": sandbox_keys.mchid,
        "description": "independent",
        "out_trade_no": "V3ORDER0001",
        "notify_url": "http://127.0.0.1:9/v1/pay/notify",
        "amount": {"total": 100, "currency": "CNY"},
        "payer": {"openid": "oV3"},
    }
    body = json.dumps(payload)
    path = "/v3/pay/transactions/jsapi"
    authorization = v3utils.build_authorization(
        path, "POST", sandbox_keys.mchid, sandbox_keys.merchant_serial, sandbox_keys.merchant_key, data=body
    )
    async with http_client(base_url=sandbox_url) as http:
        answer = await http.post(path, content=body, headers={"Authorization": authorization})
        assert answer.status_code == 200, answer.text
        assert answer.json()["prepay_id"].startswith("wx")
        # wechatpayv3 verifies the sandbox's answer signature with the platform public key.
        assert v3core(sandbox_keys)._verify_signature(answer.headers, answer.text)
        forged = authorization.replace('signature="', 'signature="AAAA')
        refused = await http.post(path, content=body, headers={"Authorization": forged})
        assert refused.status_code == 401 and refused.json()["code"] == "SIGN_ERROR"
        old = v3utils.build_authorization(
            path, "POST", sandbox_keys.mchid, "UNKNOWN-SERIAL", sandbox_keys.merchant_key, data=body
        )
        assert (await http.post(path, content=body, headers={"Authorization": old})).status_code == 401


async def test_wechatpayv3_accepts_sandbox_notifications(client, sandbox, sandbox_url, sandbox_keys):
    prepay_id = await client.create_jsapi_order(
        out_trade_no="CKNOTIFY0001", description="d", amount_fen=990, payer_openid="oPayer", time_expire=expire_in()
    )
    async with http_client(base_url=sandbox_url) as control:
        paid = (await control.post("/sandbox/pay", json={"prepayId": prepay_id, "drop": True})).json()
    sent = sandbox.notifications[paid["notificationId"]]
    independent = v3core(sandbox_keys).callback(sent.headers, sent.body)
    assert independent["event_type"] == "TRANSACTION.SUCCESS"
    assert independent["resource"]["out_trade_no"] == "CKNOTIFY0001"
    ours = client.open_notification(httpx.Headers(sent.headers), sent.body)
    assert json.loads(ours.plaintext) == independent["resource"]
    transaction = ours.decode(wxpay.Transaction)
    assert transaction.trade_state == "SUCCESS" and transaction.amount.total == 990
    assert transaction.transaction_id == paid["transactionId"]


async def test_notification_checks(client, sandbox_keys):
    body = json.dumps(
        {
            "id": "EV-1",
            "create_time": "2025-01-01T00:00:00+08:00",
            "resource_type": "encrypt-resource",
            "event_type": "TRANSACTION.SUCCESS",
            "resource": wxpay.aes_gcm_encrypt(sandbox_keys.apiv3_key.encode(), b"{}", "transaction"),
        }
    ).encode()
    platform = sandbox_keys.platform_key

    def headers(**changes):
        signed = wxpay.signed_headers(platform, sandbox_keys.public_key_id, body, changes.pop("timestamp", None))
        signed.update(changes)
        return httpx.Headers(signed)

    assert client.open_notification(headers(), body).plaintext == b"{}"
    cases = {
        "stale": headers(timestamp=int(time.time()) - 301),
        "unknown_serial": headers(**{"Wechatpay-Serial": "PUB_KEY_ID_SOMEONE_ELSE"}),
        "missing_headers": httpx.Headers({"Content-Type": "application/json"}),
    }
    for reason, bad in cases.items():
        with pytest.raises(wxpay.NotificationRejected) as rejected:
            client.open_notification(bad, body)
        assert rejected.value.reason == reason
    with pytest.raises(wxpay.NotificationRejected) as rejected:
        client.open_notification(headers(), body.replace(b"EV-1", b"EV-2"))  # altered after signing
    assert rejected.value.reason == "bad_signature"
    # Signed by someone else with the right serial.
    forged = wxpay.signed_headers(wxpay.new_rsa_key(), sandbox_keys.public_key_id, body)
    with pytest.raises(wxpay.NotificationRejected) as rejected:
        client.open_notification(httpx.Headers(forged), body)
    assert rejected.value.reason == "bad_signature"
    # Signed by WeChat, encrypted with another APIv3 key.
    other = body.replace(b'"ciphertext"', b'"x"')
    other = json.dumps(
        {**json.loads(body), "resource": wxpay.aes_gcm_encrypt(b"0" * 32, b"{}", "transaction")}
    ).encode()
    signed = httpx.Headers(wxpay.signed_headers(platform, sandbox_keys.public_key_id, other))
    with pytest.raises(wxpay.NotificationRejected) as rejected:
        client.open_notification(signed, other)
    assert rejected.value.reason == "undecryptable"


def _certificate(key, serial: int) -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Tenpay.com Root CA")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    from cryptography.hazmat.primitives.serialization import Encoding

    return certificate.public_bytes(Encoding.PEM)


def test_certificate_mode_and_key_switch_pick_the_key_by_serial(tmp_path, sandbox_keys):
    old_key = wxpay.new_rsa_key()
    cert = tmp_path / "platform.pem"
    cert.write_bytes(_certificate(old_key, 0x5157F09EFDC096DE15EBE81A47057A7232F1B8E1))
    settings = world_settings(
        "postgresql://x/y", "http://a", "http://b", sandbox_keys, wechat_pay_platform_certs=str(cert)
    )
    config = pay_config(settings)
    assert config.platform_serial == sandbox_keys.public_key_id  # public-key mode preferred once configured
    body = b'{"id":"x"}'
    by_certificate = wxpay.signed_headers(old_key, "5157F09EFDC096DE15EBE81A47057A7232F1B8E1", body)
    by_public_key = wxpay.signed_headers(sandbox_keys.platform_key, sandbox_keys.public_key_id, body)
    wxpay.verify_signed(config.platform_keys, by_certificate, body, max_age=300)
    wxpay.verify_signed(config.platform_keys, by_public_key, body, max_age=300)
    # The certificate's serial with the public key's signature (or the reverse) does not verify.
    crossed = {**by_public_key, "Wechatpay-Serial": "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"}
    with pytest.raises(wxpay.SignatureRejected):
        wxpay.verify_signed(config.platform_keys, crossed, body, max_age=300)
    # Certificate mode alone.
    only_certs = world_settings(
        "postgresql://x/y",
        "http://a",
        "http://b",
        sandbox_keys,
        wechat_pay_platform_certs=str(cert),
        wechat_pay_public_key=None,
        wechat_pay_public_key_id=None,
    )
    assert pay_config(only_certs).platform_serial == "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"


def test_settings_refuse_half_a_merchant(sandbox_keys):
    from service.settings import SettingsError

    with pytest.raises(SettingsError, match="WECHAT_PAY_APIV3_KEY"):
        pay_config(world_settings("postgresql://x/y", "http://a", "http://b", sandbox_keys, wechat_pay_apiv3_key=None))
    with pytest.raises(SettingsError, match="32-character"):
        pay_config(
            world_settings("postgresql://x/y", "http://a", "http://b", sandbox_keys, wechat_pay_apiv3_key="short")
        )
    with pytest.raises(SettingsError, match="PLATFORM_CERTS"):
        pay_config(
            world_settings(
                "postgresql://x/y",
                "http://a",
                "http://b",
                sandbox_keys,
                wechat_pay_public_key=None,
                wechat_pay_public_key_id=None,
            )
        )


async def test_operations_against_the_sandbox(client):
    kwargs = dict(description="seat", amount_fen=500, payer_openid="oA", time_expire=expire_in())
    first = await client.create_jsapi_order(out_trade_no="CKOPS00001", **kwargs)
    assert await client.create_jsapi_order(out_trade_no="CKOPS00001", **kwargs) == first  # same order, same id
    with pytest.raises(PayError) as used:
        await client.create_jsapi_order(out_trade_no="CKOPS00001", **{**kwargs, "amount_fen": 501})
    assert used.value.code == "OUT_TRADE_NO_USED" and not used.value.retryable
    assert (await client.query_order("CKOPS00001")).trade_state == "NOTPAY"
    await client.close_order("CKOPS00001")
    assert (await client.query_order("CKOPS00001")).trade_state == "CLOSED"
    with pytest.raises(PayError) as closed:
        await client.create_jsapi_order(out_trade_no="CKOPS00001", **kwargs)
    assert closed.value.code == "ORDER_CLOSED"
    with pytest.raises(PayError) as missing:
        await client.query_order("CKNOSUCHORDER")
    assert (missing.value.status, missing.value.code) == (404, "ORDER_NOT_EXIST")
    with pytest.raises(PayError) as unpaid:
        await client.refund(out_trade_no="CKOPS00001", out_refund_no="RF1", refund_fen=500, total_fen=500)
    assert unpaid.value.code == "INVALID_REQUEST"


async def test_refund_and_transfer_against_the_sandbox(client, sandbox, sandbox_url):
    sandbox.auto_complete_refunds = False
    prepay_id = await client.create_jsapi_order(
        out_trade_no="CKREFUND01", description="d", amount_fen=800, payer_openid="oB", time_expire=expire_in()
    )
    async with http_client(base_url=sandbox_url) as control:
        await control.post("/sandbox/pay", json={"prepayId": prepay_id, "drop": True})
        with pytest.raises(PayError) as too_much:
            await client.refund(out_trade_no="CKREFUND01", out_refund_no="RFA", refund_fen=801, total_fen=800)
        assert too_much.value.code == "INVALID_REQUEST"
        refund = await client.refund(out_trade_no="CKREFUND01", out_refund_no="RFA", refund_fen=300, total_fen=800)
        assert refund.state == "PROCESSING" and refund.amount.refund == 300
        again = await client.refund(out_trade_no="CKREFUND01", out_refund_no="RFA", refund_fen=300, total_fen=800)
        assert again.refund_id == refund.refund_id
        await control.post("/sandbox/pay/refunds", json={"outRefundNo": "RFA", "drop": True})
        assert (await client.query_refund("RFA")).state == "SUCCESS"
        assert (await client.query_order("CKREFUND01")).trade_state == "REFUND"

        bill = await client.transfer(out_bill_no="TRBILL0001", openid="oC", amount_fen=1000, remark="settlement")
        assert bill.state == "WAIT_USER_CONFIRM" and bill.package_info
        await control.post("/sandbox/pay/transfers", json={"outBillNo": "TRBILL0001", "drop": True})
        done = await client.query_transfer("TRBILL0001")
        assert done.state == "SUCCESS" and done.transfer_amount == 1000
        with pytest.raises(PayError) as small:
            await client.transfer(out_bill_no="TRBILL0002", openid="oC", amount_fen=5, remark="x")
        assert small.value.code == "PARAM_ERROR"


async def test_unverifiable_answers_and_faults(client, sandbox_url):
    await client.create_jsapi_order(
        out_trade_no="CKVERIFY01", description="d", amount_fen=1, payer_openid="oD", time_expire=expire_in()
    )
    impostor_keys = {client.config.platform_serial: wxpay.new_rsa_key().public_key()}
    impostor = WeChatPay(wxpay.PayConfig(**{**client.config.__dict__, "platform_keys": impostor_keys}), client.http)
    with pytest.raises(PayError) as unverified:
        await impostor.query_order("CKVERIFY01")
    assert unverified.value.code == "ANSWER_NOT_VERIFIED"
    async with http_client(base_url=sandbox_url) as control:
        await control.post(
            "/sandbox/pay/faults", json={"operation": "query", "status": 429, "code": "FREQUENCY_LIMITED"}
        )
    with pytest.raises(PayError) as limited:
        await client.query_order("CKVERIFY01")
    assert limited.value.retryable and limited.value.status == 429
    assert (await client.query_order("CKVERIFY01")).trade_state == "NOTPAY"
    unreachable = WeChatPay(
        wxpay.PayConfig(**{**client.config.__dict__, "api_base": "http://127.0.0.1:9"}), client.http
    )
    with pytest.raises(PayError) as down:
        await unreachable.query_order("CKVERIFY01")
    assert down.value.status == 0 and down.value.retryable


def test_signature_helpers_reject_garbage(sandbox_keys):
    key = sandbox_keys.platform_key.public_key()
    assert not wxpay.rsa_verify(key, b"m", "not base64!")
    assert not wxpay.rsa_verify(key, b"m", base64.b64encode(b"x" * 256).decode())
    assert wxpay.parse_authorization("Bearer abc") is None


def test_development_keys_are_created_once_and_kept(tmp_path):
    first = load_dev_keys(tmp_path / "keys")
    again = load_dev_keys(tmp_path / "keys")
    assert public_pem(first.platform_key.public_key()) == public_pem(again.platform_key.public_key())
    assert first.apiv3_key == again.apiv3_key and len(first.apiv3_key) == 32
    assert oct((tmp_path / "keys" / "merchant.pem").stat().st_mode & 0o777) == "0o600"
