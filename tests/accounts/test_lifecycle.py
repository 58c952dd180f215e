"""Account services and pages beyond the main journey: single-use expiring links, password
reset and change ending other sessions, the new address confirmed by mail, "keep me logged
in", erasure re-applied after a backup restore, the staff CLI, and the age check for
marketing sign-up."""
from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest
import requests
from sqlalchemy import delete, insert

from cookiegate.accounts.auth import account_by_email, register_account
from cookiegate.accounts.erase import reapply_erasures
from cookiegate.accounts.models import Account, ErasureTombstone
from cookiegate.errors import NotFound, ValidationError
from cookiegate.extensions import db
from cookiegate.ledger.keys import current_keys
from cookiegate.ledger.record import Context
from cookiegate.newsletter.models import Subscriber, Subscription
from cookiegate.newsletter.services import subscribe_lists
from cookiegate.timeutil import utcnow
from tests.accounts.conftest import PASSWORD, mailed_link, new_address, nl, post_form, registered_account
from tests.factories import make_site
from tests.newsletter.conftest import confirmed_subscriber, forget_loaded, fresh, parsed, site_events
from tests.test_migrations import run_cookiegate


def account_url(live_server, site, path: str = "") -> str:
    return f"{live_server.url}/s/{site.slug}/account/{path}"


def test_a_confirmation_link_works_once_and_a_newer_one_replaces_it(live_server, shop, smtp):
    address, person = new_address(), requests.Session()
    for _ in range(2):  # registering again before confirming sends a new link
        assert post_form(person, account_url(live_server, shop, "register"),
                         {"email": address, "password": PASSWORD}).status_code == 303
    first, second = mailed_link(smtp, address, 1), mailed_link(smtp, address, 2)
    assert person.get(first).status_code == 404  # replaced by the newer mail
    assert person.get(second).status_code == 200
    forget_loaded()
    assert account_by_email(shop, address).confirmed_at is None  # GET changes nothing
    assert post_form(person, second, {}).status_code == 303
    assert person.get(second).status_code == 404  # used
    assert fresh(Account, site_id=shop.id, email_hmac=current_keys().email_hmac(address)).confirmed_at is not None


def test_an_unconfirmed_account_cannot_log_in_and_gets_a_new_link(live_server, shop, smtp):
    address, person = new_address(), requests.Session()
    post_form(person, account_url(live_server, shop, "register"), {"email": address, "password": PASSWORD})
    answer = post_form(person, account_url(live_server, shop, "login"), {"email": address, "password": PASSWORD})
    assert answer.status_code == 422 and nl("Confirm your e-mail address first: we have sent you a new mail with "
                                            "the link.") in answer.text
    assert post_form(person, mailed_link(smtp, address, 2), {}).status_code == 303


def test_password_reset_is_single_use_expires_and_ends_other_sessions(live_server, shop, smtp, app):
    person, address = registered_account(live_server, shop, smtp)
    other_device = requests.Session()
    post_form(other_device, account_url(live_server, shop, "login"), {"email": address, "password": PASSWORD})
    assert other_device.get(account_url(live_server, shop), allow_redirects=False).status_code == 200
    post_form(requests.Session(), account_url(live_server, shop, "reset"), {"email": address})
    link = mailed_link(smtp, address, 2)
    stranger = requests.Session()
    too_short = post_form(stranger, link, {"password": "short"})
    assert too_short.status_code == 422 and nl("%(min)d to %(max)d characters", min=8, max=256) in too_short.text
    assert post_form(stranger, link, {"password": "een heel nieuw wachtwoord"}).status_code == 303
    assert stranger.get(link).status_code == 404  # used once
    for session in (person, other_device):  # every session of the account ended
        assert session.get(account_url(live_server, shop), allow_redirects=False).status_code == 303
    assert post_form(stranger, account_url(live_server, shop, "login"),
                     {"email": address, "password": PASSWORD}).status_code == 422
    assert post_form(stranger, account_url(live_server, shop, "login"),
                     {"email": address, "password": "een heel nieuw wachtwoord"}).status_code == 303
    # An expired link does nothing.
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(app.config, "ACCOUNT_RESET_MINUTES", -1)
        post_form(requests.Session(), account_url(live_server, shop, "reset"), {"email": address})
        expired = mailed_link(smtp, address, 3)
    assert requests.get(expired).status_code == 404


def test_changing_the_password_keeps_this_session_and_ends_the_others(live_server, shop, smtp):
    person, address = registered_account(live_server, shop, smtp)
    other_device = requests.Session()
    post_form(other_device, account_url(live_server, shop, "login"), {"email": address, "password": PASSWORD})
    wrong = post_form(person, account_url(live_server, shop), {"password": "not my password", "new_password": "x" * 12},
                      action=account_url(live_server, shop, "password"))
    assert wrong.status_code == 422 and nl("not your password") in wrong.text
    assert post_form(person, account_url(live_server, shop), {"password": PASSWORD, "new_password": "x" * 12},
                     action=account_url(live_server, shop, "password")).status_code == 303
    assert person.get(account_url(live_server, shop), allow_redirects=False).status_code == 200
    assert other_device.get(account_url(live_server, shop), allow_redirects=False).status_code == 303


def test_a_new_address_counts_only_once_confirmed_and_the_old_one_is_told(live_server, shop, smtp):
    person, address = registered_account(live_server, shop, smtp)
    new = new_address()
    answer = post_form(person, account_url(live_server, shop), {"email_password": PASSWORD, "new_email": "no address"},
                       action=account_url(live_server, shop, "email"))
    assert answer.status_code == 422
    assert post_form(person, account_url(live_server, shop), {"email_password": PASSWORD, "new_email": new},
                     action=account_url(live_server, shop, "email")).status_code == 303
    link = mailed_link(smtp, new)
    forget_loaded()
    assert account_by_email(shop, address) is not None and account_by_email(shop, new) is None
    page = person.get(link)
    assert page.status_code == 200 and new in page.text
    assert post_form(person, link, {}).status_code == 303
    forget_loaded()
    assert account_by_email(shop, address) is None and account_by_email(shop, new).email == new
    told = smtp.wait_for(address, 2)[1]
    assert nl("The e-mail address of your account at %(site)s was changed", site=shop.name) in parsed(told)["Subject"]
    assert post_form(requests.Session(), account_url(live_server, shop, "login"),
                     {"email": new, "password": PASSWORD}).status_code == 303


def test_keep_me_logged_in_makes_the_session_cookie_last(live_server, shop, smtp):
    _person, address = registered_account(live_server, shop, smtp)
    for remember, lasting in (("", False), ("y", True)):
        person = requests.Session()
        answer = post_form(person, account_url(live_server, shop, "login"),
                           {"email": address, "password": PASSWORD, "remember": remember})
        cookie = answer.headers["Set-Cookie"]
        assert ("Expires=" in cookie) is lasting, cookie
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and f"Path=/s/{shop.slug}/" in cookie


def test_erasures_are_applied_again_after_a_backup_restore(live_server, shop, smtp, app_ctx, tmp_path):
    person, address = registered_account(live_server, shop, smtp)
    confirmed_subscriber(shop, address)
    forget_loaded()
    before = {c.name: getattr(account_by_email(shop, address), c.name) for c in Account.__table__.columns}
    subscriber = fresh(Subscriber, site_id=shop.id, email_hmac=current_keys().email_hmac(address))
    kept_subscriber = {c.name: getattr(subscriber, c.name) for c in Subscriber.__table__.columns}
    page = post_form(person, account_url(live_server, shop, "delete"), {"password": PASSWORD, "confirm": "y"})
    assert page.status_code == 303
    forget_loaded()
    assert account_by_email(shop, address) is None

    # "Restore a backup" taken before the deletion: the rows come back as they were.
    restored = {**before, "id": None, "subject_id": f"cga-{uuid.uuid4()}"}
    restored.pop("id")
    db.session.execute(insert(Account).values(**restored))
    kept_subscriber.pop("id")
    db.session.execute(insert(Subscriber).values(**kept_subscriber))
    db.session.commit()
    assert account_by_email(shop, address) is not None

    result = cli(app_ctx, "account", "reapply-erasures", "--site", shop.slug)
    assert result.returncode == 0, result.stderr
    assert "re-applied: 1 account(s), 1 newsletter subscriber(s)" in result.stdout
    forget_loaded()
    assert account_by_email(shop, address) is None
    assert fresh(Subscriber, site_id=shop.id, email_hmac=current_keys().email_hmac(address)) is None
    assert reapply_erasures(site=shop).accounts == 0  # once is enough: nothing left to erase


def test_tombstones_kept_apart_survive_a_restore_that_lost_them(live_server, shop, smtp, app_ctx, tmp_path):
    """A backup older than the erasure has neither the erasure nor its tombstone: the
    tombstones kept apart (`account tombstones`) bring both back."""
    person, address = registered_account(live_server, shop, smtp)
    forget_loaded()
    before = {c.name: getattr(account_by_email(shop, address), c.name) for c in Account.__table__.columns}
    assert post_form(person, account_url(live_server, shop, "delete"), {"password": PASSWORD, "confirm": "y"}).status_code == 303
    kept = cli(app_ctx, "account", "tombstones", "--site", shop.slug)
    assert kept.returncode == 0 and current_keys().email_hmac(address) in kept.stdout
    (tmp_path / "tombstones.jsonl").write_text(kept.stdout + "\n")

    forget_loaded()  # the restore: the account as it was, its tombstone gone
    db.session.execute(delete(ErasureTombstone).where(ErasureTombstone.site_id == shop.id))
    before.pop("id")
    db.session.execute(insert(Account).values(**{**before, "subject_id": f"cga-{uuid.uuid4()}"}))
    db.session.commit()
    assert cli(app_ctx, "account", "reapply-erasures").stdout.startswith("re-applied: 0 account(s)")
    result = cli(app_ctx, "account", "reapply-erasures", "--from", str(tmp_path / "tombstones.jsonl"))
    assert result.returncode == 0, result.stderr
    assert "tombstones put back: 1" in result.stdout and "re-applied: 1 account(s)" in result.stdout
    forget_loaded()
    assert account_by_email(shop, address) is None
    (tmp_path / "garbage").write_text("not json\n")
    refused = cli(app_ctx, "account", "reapply-erasures", "--from", str(tmp_path / "garbage"))
    assert refused.returncode != 0 and "not JSON lines" in refused.stderr


def _instance_of(app):
    from pathlib import Path
    return Path(app.config["LEDGER_KEY_FILE"]).parent


def cli(app, *args: str):
    """`cookiegate ...` in a subprocess on the test's database, with the test app's keys."""
    return run_cookiegate(list(args), database_url=db.engine.url.render_as_string(hide_password=False),
                          instance=_instance_of(app), LEDGER_KEY_FILE=app.config["LEDGER_KEY_FILE"])


def test_staff_export_and_erase_from_the_command_line(live_server, shop, smtp, app_ctx):
    _person, address = registered_account(live_server, shop, smtp)
    exported = cli(app_ctx, "account", "export", "--site", shop.slug, address)
    assert exported.returncode == 0, exported.stderr
    assert json.loads(exported.stdout)["account"]["email"] == address
    unknown = cli(app_ctx, "account", "export", "--site", shop.slug, new_address())
    assert unknown.returncode != 0 and "no account" in unknown.stderr
    erased = cli(app_ctx, "account", "erase", "--site", shop.slug, address)
    assert erased.returncode == 0 and "erased: 1 account(s)" in erased.stdout, erased.stderr
    forget_loaded()
    assert account_by_email(shop, address) is None


def test_marketing_sign_up_asks_for_16_or_over_where_the_site_wants_it(live_server, smtp, app_ctx):
    from cookiegate.newsletter.lists import ensure_list
    from cookiegate.sites.demo import DEMO_LISTS

    site = make_site()
    site.marketing_age_check = True
    db.session.commit()
    for key, texts in DEMO_LISTS["petite-vie"].items():
        ensure_list(site=site, key=key, texts=texts)
    with pytest.raises(ValidationError) as refused:
        subscribe_lists(site=site, email=new_address(), list_keys=["newsletter"], language="nl", source="hosted_form")
    assert "age_confirmed" in refused.value.fields
    # The hosted sign-up form shows the question, and refuses without the tick.
    person = requests.Session()
    page = f"{live_server.url}/s/{site.slug}/newsletter"
    assert 'id="age-confirmed"' in person.get(page).text
    address = new_address()
    assert post_form(person, page, {"email": address, "lists": "newsletter", "language": "nl"}).status_code == 422
    assert post_form(person, page, {"email": address, "lists": "newsletter", "language": "nl",
                                    "age_confirmed": "y"}).status_code == 303
    subscription = db.session.execute(db.select(Subscription).join(Subscriber, Subscriber.id == Subscription.subscriber_id)
                                      .where(Subscriber.site_id == site.id)).scalar_one()
    assert subscription.age_confirmed is True
    # The account page's marketing section asks too, and the confirmed opt-in's proof says so.
    account_person, account_address = registered_account(live_server, site, smtp)
    home = account_url(live_server, site)
    assert post_form(account_person, home, {"lists": "promotions"}, action=home + "marketing").status_code == 422
    assert post_form(account_person, home, {"lists": "promotions", "age_confirmed": "y"},
                     action=home + "marketing").status_code == 303
    link = [m for m in smtp.wait_for(account_address, 2)][1]
    assert b"/confirm/" in link.content
    # Without the setting nothing is asked.
    site.marketing_age_check = False
    db.session.commit()
    assert subscribe_lists(site=site, email=new_address(), list_keys=["newsletter"], language="nl",
                           source="hosted_form", send=False)[0].age_confirmed is None


def test_marketing_choices_on_the_account_page_are_recorded_as_the_account(live_server, shop, smtp):
    person, address = registered_account(live_server, shop, smtp)
    confirmed_subscriber(shop, address, ("newsletter",))
    home = account_url(live_server, shop)
    assert post_form(person, home, {"post": "y"}, action=home + "marketing").status_code == 303
    forget_loaded()
    account = account_by_email(shop, address)
    unsubscribed = site_events(shop, "unsubscribed")[-1]
    assert unsubscribed.leaf["interaction"]["channel"] == "account"
    assert unsubscribed.personal["account_id"] == account.subject_id
    updated = site_events(shop, "updated")[-1]
    assert updated.leaf["decisions"]["channel:post"]["granted"] is True
    assert updated.leaf["interaction"] == {"channel": "account", "layer": None, "action": "save_selection"}


def test_register_refuses_what_it_cannot_use_and_keeps_nothing(app_ctx, shop):
    for email, password, field in (("not an address", PASSWORD, "email"), (new_address(), "short", "password"),
                                   ("same@example.org", "same@example.org", "password")):
        with pytest.raises(ValidationError) as refused:
            register_account(site=shop, email=email, password=password, language="nl", context=Context())
        assert field in refused.value.fields
    assert db.session.execute(db.select(Account).where(Account.site_id == shop.id)).first() is None


def test_a_token_of_one_site_opens_nothing_at_another(live_server, shop, smtp):
    address, person = new_address(), requests.Session()
    post_form(person, account_url(live_server, shop, "register"), {"email": address, "password": PASSWORD})
    link = mailed_link(smtp, address)
    other = make_site()
    assert person.get(link.replace(f"/s/{shop.slug}/", f"/s/{other.slug}/")).status_code == 404
    for forged in ("1", "x" * 500, "999999.abc", link.rsplit("/", 1)[1].split("?")[0] + "x"):
        assert person.get(account_url(live_server, shop, f"confirm/{forged}")).status_code == 404
    with pytest.raises(NotFound):
        from cookiegate.accounts.auth import confirmation_account
        confirmation_account(site=shop, token=link.rsplit("/", 1)[1].split("?")[0], now=utcnow() + timedelta(days=8))


def test_a_choice_made_while_logged_in_is_the_accounts(live_server, shop, smtp):
    person, address = registered_account(live_server, shop, smtp)
    banner = f"{live_server.url}/s/{shop.slug}/"
    answer = post_form(person, banner, {"accept_all": "1", "layer": "1", "channel": "banner", "next": f"/s/{shop.slug}/"},
                       action=f"{live_server.url}/s/{shop.slug}/consent")
    assert answer.status_code == 303
    forget_loaded()
    account = account_by_email(shop, address)
    given = site_events(shop, "given")[-1]
    assert given.personal["account_id"] == account.subject_id
    page = person.get(account_url(live_server, shop)).text
    assert nl("This browser") in page and given.row.consent_id[:8] in page
    from cookiegate.ledger.state import subject_state
    from cookiegate.ledger.subjects import Subject
    from cookiegate.sites.services import current_notice
    state = subject_state(site_id=shop.id, notice=current_notice(shop), subject=Subject("account", account.subject_id))
    assert state.found and state.categories["marketing"].granted  # the API answers by the account too
