"""The providers' side: their webhooks."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from gateway.http.api import Api, Call
from gateway.usecases.webhooks import receive

router = Api()
TAG = "rails"


class WebhookOut(BaseModel):
    result: Literal["applied", "duplicate", "ignored", "unknown_payment"] = Field(
        description="applied: the payment it names was asked about and recorded; duplicate: this event was applied before"
    )


@router.route(
    "POST",
    "/rails/{rail}/webhooks",
    "A provider's webhook: verified by its signature, kept once, and applied by asking the provider again",
    TAG,
    access="public",
    response=WebhookOut,
    errors=("webhook_refused", "rail_not_enabled", "rail_unavailable"),
)
async def post_webhook(call: Call) -> WebhookOut:
    body = await call.raw_body()
    return WebhookOut(result=await receive(call.deployment, call.path["rail"], body, dict(call.request.headers)))
