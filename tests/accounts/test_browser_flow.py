"""Acceptance 1, in a real Chromium and in Dutch: register, confirm by the mail the SMTP server
received, log in, change a consent, correct the profile, export, delete; afterwards the address
cannot log in, the deleted account's export holds nothing personal and the log verifies. And
axe-core finds nothing on the account pages, in Dutch and English."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from cookiegate.accounts.models import Account, AccountEvent, ErasureTombstone
from cookiegate.accounts.export import export_account
from cookiegate.canonical import loads
from cookiegate.extensions import db
from cookiegate.ledger.keys import current_keys
from cookiegate.ledger.log import sequence_all
from cookiegate.ledger.models import ConsentEvent, EventPersonal
from cookiegate.ledger.receipts import verify_receipt
from cookiegate.ledger.verify import verify_log
from cookiegate.newsletter.models import Suppression
from tests.accounts.conftest import PASSWORD, mailed_link, new_address, nl
from tests.newsletter.conftest import fresh, parsed, text_part
from tests.axe_support import AxePages

pytestmark = pytest.mark.browser


@pytest.fixture
def context(browser):
    opened = browser.new_context(locale="nl-NL", bypass_csp=True, accept_downloads=True)
    opened.set_default_timeout(10_000)
    yield opened
    opened.close()


def submit(page, selector: str = "button[type=submit]") -> None:
    with page.expect_navigation():
        page.click(selector)


def test_register_confirm_login_change_correct_export_delete_in_dutch(app, context, live_server, smtp, shop, tmp_path):
    email, base = new_address(), f"{live_server.url}/s/{shop.slug}"
    page = context.new_page()
    page.goto(f"{base}/")
    submit(page, "button[name=accept_all]")  # a cookie choice in this browser before logging in

    page.goto(f"{base}/account/register")
    assert page.locator("html").get_attribute("lang") == "nl"
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    submit(page)
    assert nl("Check your inbox") in page.inner_text("h1")
    mail = parsed(smtp.wait_for(email)[0])
    assert mail["Subject"] == nl("Confirm your account at %(site)s", site=shop.name)
    assert nl("Someone, probably you, created an account at %(site)s with this address. Confirm it to start "
              "using the account:", site=shop.name) in " ".join(text_part(mail).split())
    page.goto(mailed_link(smtp, email))
    assert fresh(Account, site_id=shop.id, email_hmac=current_keys().email_hmac(email)).confirmed_at is None
    submit(page)  # only the button confirms
    assert nl("Your address is confirmed. You can log in now.") in page.inner_text("main")

    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    submit(page)
    assert page.url.endswith("/account/")
    account = fresh(Account, site_id=shop.id, email_hmac=current_keys().email_hmac(email))
    main = page.inner_text("main")
    assert nl("This browser") in main and nl("Allowed") in main

    # Change a consent: withdraw this browser's from the account page.
    submit(page, "#consents button[type=submit]")
    assert nl("Your consent is withdrawn.") in page.inner_text("main")
    db.session.rollback()
    withdrawn = db.session.execute(db.select(ConsentEvent).where(ConsentEvent.site_id == shop.id)
                                   .order_by(ConsentEvent.id.desc())).scalars().first()
    leaf = loads(withdrawn.leaf)
    assert withdrawn.kind == "withdrawn" and leaf["interaction"]["channel"] == "account"
    assert not any(d["granted"] for d in leaf["decisions"].values() if d["basis"] == "consent")
    assert db.session.get(EventPersonal, withdrawn.id).data["account_id"] == account.subject_id
    assert page.locator("#consents button[type=submit]").count() == 0  # nothing left to withdraw

    # Correct the profile: each change recorded by field name.
    page.fill("#name", "Anna de Vries")
    page.fill("#postal_address", "Bloemgracht 12\n1015 TK Amsterdam")
    page.fill("#phone", "+31 6 1234 5678")
    submit(page, "#profile button[type=submit]")
    assert nl("Your details are saved.") in page.inner_text("main")
    account = fresh(Account, id=account.id)
    assert (account.name, account.postal_address, account.phone) == (
        "Anna de Vries", "Bloemgracht 12\n1015 TK Amsterdam", "+31 6 1234 5678")
    changes = db.session.execute(db.select(AccountEvent).where(AccountEvent.account_id == account.id,
                                                               AccountEvent.kind == "profile_updated")).scalars().all()
    assert [c.details for c in changes] == [{"fields": ["name", "phone", "postal_address"]}]

    # Export: the readable page and the JSON download.
    page.goto(f"{base}/account/export")
    assert "Anna de Vries" in page.inner_text("main") and nl("Consent withdrawn") in page.inner_text("main")
    page.goto(f"{base}/account/")
    with page.expect_download() as download:
        page.click("a[href$='/account/export.json']")
    exported = json.loads(Path(download.value.path()).read_text())
    assert exported["account"]["email"] == email and exported["account"]["name"] == "Anna de Vries"
    assert [c["event"]["type"] for c in exported["consents"]] == ["withdrawn", "given"]
    receipts = [c["receipt"] for c in exported["consents"]]
    assert all(verify_receipt(token=r, keys=current_keys()).ok for r in receipts)

    # Delete: password again and the box ticked.
    page.goto(f"{base}/account/delete")
    page.fill("#password", PASSWORD)
    submit(page)
    assert page.locator(".cg-error").count() == 1  # the box was not ticked: nothing erased
    assert fresh(Account, id=account.id).email == email
    page.fill("#password", PASSWORD)
    page.check("#confirm")
    submit(page)
    assert nl("Your account is deleted") in page.inner_text("h1")
    goodbye = parsed(smtp.wait_for(email, 2)[1])
    assert goodbye["Subject"] == nl("Your account at %(site)s has been deleted", site=shop.name)

    # Afterwards: no login with the address, nothing personal left, the log and receipts verify.
    page.goto(f"{base}/account/login")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    submit(page)
    assert nl("The e-mail address or the password is not right.") in page.inner_text("main")
    assert page.url.endswith("/account/login")
    shell = fresh(Account, id=account.id)
    assert shell.deleted_at is not None and shell.password_hash is None
    after = json.dumps(export_account(site=shop, account=shell))
    consent_ids = {c["event"]["consent_id"] for c in exported["consents"]}
    for personal in (email, "Anna de Vries", "Bloemgracht", "1234 5678", current_keys().email_hmac(email),
                     *consent_ids, "127.0.0.0", "Chrome"):
        assert personal not in after, f"{personal!r} is still in the export of the deleted account"
    assert db.session.execute(db.select(EventPersonal).where(EventPersonal.event_pk == withdrawn.id)).first() is None
    sequence_all(origin_base=app.config["LEDGER_ORIGIN"])
    report = verify_log(site=shop, keys=current_keys())
    assert report.ok, report.problems
    assert all(verify_receipt(token=r, keys=current_keys()).ok for r in receipts)
    hmac = current_keys().email_hmac(email)
    assert fresh(ErasureTombstone, site_id=shop.id, email_hmac=hmac) is not None
    assert fresh(Suppression, site_id=shop.id, email_hmac=hmac) is not None


@pytest.mark.parametrize("lang", ["nl", "en"])
def test_axe_finds_nothing_on_the_account_pages(context, live_server, smtp, shop, lang):
    email, base = new_address(), f"{live_server.url}/s/{shop.slug}/account"
    page = context.new_page()
    check = (axe := AxePages(page, lang)).check

    page.goto(f"{base}/register?lang={lang}")
    check("register")
    submit(page)
    check("register with errors")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    submit(page)
    check("check your inbox")
    page.goto(mailed_link(smtp, email))
    check("confirm")
    submit(page)
    check("login")
    page.fill("#email", email)
    page.fill("#password", "wrong password")
    submit(page)
    check("login with error")
    page.fill("#password", PASSWORD)
    submit(page)
    check("account")
    page.fill("#phone", "not a phone")
    submit(page, "#profile button[type=submit]")
    check("account with errors")
    page.goto(f"{base}/export?lang={lang}")
    check("export")
    page.goto(f"{base}/delete?lang={lang}")
    check("delete")
    page.goto(f"{base}/reset?lang={lang}")
    check("reset")
    axe.assert_clean()
