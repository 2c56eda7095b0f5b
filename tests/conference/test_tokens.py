import pytest
from proctorbot.conference.tokens import TokenError, TokenSigner

SIGNER = TokenSigner(b"k" * 32)


def make(**kw) -> str:
    args = dict(purpose="call", session_id="s1", role="student", person_id="p1", ttl_seconds=60)
    args.update(kw)
    return SIGNER.sign(**args, now=1000.0)


def test_valid_token_round_trip() -> None:
    claims = SIGNER.verify(make(), purpose="call", session_id="s1", roles=("student",), now=1010)
    assert (claims.session_id, claims.role, claims.person_id) == ("s1", "student", "p1")


@pytest.mark.parametrize(
    ("token_kw", "verify_kw", "reason"),
    [
        ({}, {"now": 1061}, "expired"),
        ({}, {"session_id": "s2"}, "wrong_session"),
        ({}, {"roles": ("examiner",)}, "wrong_role"),
        ({"purpose": "download"}, {}, "wrong_purpose"),
    ],
)
def test_refusals(token_kw, verify_kw, reason) -> None:
    kw = {"purpose": "call", "now": 1010.0, **verify_kw}
    with pytest.raises(TokenError) as err:
        SIGNER.verify(make(**token_kw), **kw)
    assert err.value.reason == reason


def test_forged_role_is_refused() -> None:
    import base64
    import json

    body, mac = make().split(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    payload["r"] = "examiner"
    forged = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()
    with pytest.raises(TokenError) as err:
        SIGNER.verify(forged + "." + mac, purpose="call", now=1010)
    assert err.value.reason == "forged"


def test_other_secret_is_refused() -> None:
    with pytest.raises(TokenError) as err:
        TokenSigner(b"other").verify(make(), purpose="call", now=1010)
    assert err.value.reason == "forged"


@pytest.mark.parametrize("garbage", ["", "abc", "a.b.c", "!!!.???", "x" * 5000])
def test_garbage_is_malformed_not_a_crash(garbage: str) -> None:
    with pytest.raises(TokenError):
        SIGNER.verify(garbage, purpose="call", now=1010)
