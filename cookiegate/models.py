"""Imports every model so that metadata (and Alembic) sees all tables."""
from cookiegate.api.models import ApiKey  # noqa: F401
from cookiegate.ledger.models import (Checkpoint, ConsentEvent, EventPersonal, LogEntry,  # noqa: F401
                                      MerkleNode, PendingEvent, SubjectLink)
from cookiegate.sites.models import Category, CookieDeclaration, Notice, Site  # noqa: F401
from cookiegate.webhooks.models import Webhook, WebhookDelivery  # noqa: F401
from cookiegate.mail.models import OutboxMail  # noqa: F401
from cookiegate.newsletter.models import MailingList, Subscriber, Subscription, Suppression  # noqa: F401
from cookiegate.newsletter.mailer_events import MailerEvent  # noqa: F401
from cookiegate.accounts.models import Account, AccountEvent, AccountToken, ErasureTombstone  # noqa: F401
