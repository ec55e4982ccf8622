"""Flattring and subscriptions."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

from gateway.errors import GatewayError
from gateway.http.api import Api, Call
from gateway.http.metrics import metrics
from gateway.http.routes.things import NewThing, ThingOut
from gateway.http.schemas import PERIOD_PATTERN, Model
from gateway.rules import HANDLE_MAX
from gateway.usecases.auto_submit import auto_submit as auto_flattr
from gateway.usecases.calendar import current_period
from gateway.usecases.calendar import period as parse_period
from gateway.usecases.flattr import Click, Flattr, flattr_many, flattrs_of, unflattr
from gateway.usecases.subscriptions import (
    Subscription,
    cancel,
    pause,
    resume,
    subscribe,
    subscriptions_of,
)

router = Api()
TAG = "flattring"


class Points(Model):
    points: StrictInt = Field(default=1, ge=1, le=1000, description="1 unless weighted points are on")


class FlattrOut(BaseModel):
    period: str
    thing_id: int
    points: int


class FlattrList(BaseModel):
    period: str
    items: list[FlattrOut]


class PeriodQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    period: str | None = Field(default=None, pattern=PERIOD_PATTERN, description="like 2026-11; the current period by default")


class AutoSubmit(NewThing):
    owner: StrictStr = Field(max_length=HANDLE_MAX, description="the handle of the creator the thing belongs to")
    points: StrictInt = Field(default=1, ge=1, le=1000)


class AutoResult(BaseModel):
    thing: ThingOut
    flattr: FlattrOut


class SubscriptionIn(Model):
    points: StrictInt = Field(default=1, ge=1, le=1000)
    periods: StrictInt | None = Field(default=None, ge=1, le=1200, description="how many periods; none: until cancelled")


class SubscriptionOut(BaseModel):
    thing_id: int
    points: int
    periods_left: int | None
    status: str

    @classmethod
    def of(cls, sub: Subscription) -> SubscriptionOut:
        return cls(thing_id=sub.thing_id, points=sub.points, periods_left=sub.periods_left, status=sub.status)


class SubscriptionList(BaseModel):
    items: list[SubscriptionOut]


def _flattr_out(result: Flattr) -> FlattrOut:
    return FlattrOut(period=result.period, thing_id=result.thing_id, points=result.points)


@router.route(
    "POST",
    "/things/{thing_id}/flattr",
    "Flattr a thing (again, with weighted points)",
    TAG,
    scope="flattr",
    body=Points,
    response=FlattrOut,
    rate="flattr",
    errors=("already_flattred", "own_thing", "no_means"),
)
async def flattr_thing(call: Call) -> FlattrOut:
    click = Click(call.me, call.path["thing_id"], call.body.points)
    try:
        result = await call.batched(flattr_many, click)
    except GatewayError as error:  # a refusal (already_flattred, no_means...), counted by its problem type
        metrics().flattr_refused(error.code)
        raise
    metrics().flattr_accepted()
    return _flattr_out(result)


@router.route("DELETE", "/things/{thing_id}/flattr", "Take back this period's flattr", TAG, scope="flattr")
async def take_back(call: Call) -> None:
    await call.run(unflattr, call.deployment, call.me, call.path["thing_id"])


@router.route("GET", "/me/flattrs", "My flattrs of a period", TAG, scope="read", query=PeriodQuery, response=FlattrList)
async def my_flattrs(call: Call) -> FlattrList:
    period = parse_period(call.deployment, call.query.period) if call.query.period else current_period(call.deployment)
    items = await call.run(flattrs_of, call.deployment, call.me, period)
    return FlattrList(period=period.id, items=[_flattr_out(f) for f in items])


@router.route(
    "POST",
    "/things/auto",
    "Flattr a URL, registering it for its creator on the first flattr",
    TAG,
    scope="flattr",
    body=AutoSubmit,
    response=AutoResult,
    rate="flattr",
    errors=("already_flattred", "not_the_creators_site"),
)
async def auto_submit(call: Call) -> AutoResult:
    body: AutoSubmit = call.body
    try:
        view, result = await call.run(
            auto_flattr,
            call.deployment,
            call.me,
            body.owner,
            body.url,
            body.title,
            body.description,
            body.language,
            body.category,
            body.tags,
            body.points,
        )
    except GatewayError as error:
        metrics().flattr_refused(error.code)
        raise
    metrics().flattr_accepted()
    return AutoResult(thing=ThingOut.of(view), flattr=_flattr_out(result))


@router.route(
    "PUT",
    "/me/subscriptions/{thing_id}",
    "Subscribe to a thing (or change a subscription)",
    TAG,
    scope="flattr",
    body=SubscriptionIn,
    response=SubscriptionOut,
)
async def put_subscription(call: Call) -> SubscriptionOut:
    body: SubscriptionIn = call.body
    return SubscriptionOut.of(
        await call.run(subscribe, call.deployment, call.me, call.path["thing_id"], body.points, body.periods)
    )


@router.route("POST", "/me/subscriptions/{thing_id}/pause", "Pause a subscription", TAG, scope="flattr", response=SubscriptionOut)
async def pause_subscription(call: Call) -> SubscriptionOut:
    return SubscriptionOut.of(await call.run(pause, call.deployment, call.me, call.path["thing_id"]))


@router.route(
    "POST", "/me/subscriptions/{thing_id}/resume", "Resume a paused subscription", TAG, scope="flattr", response=SubscriptionOut
)
async def resume_subscription(call: Call) -> SubscriptionOut:
    return SubscriptionOut.of(await call.run(resume, call.deployment, call.me, call.path["thing_id"]))


@router.route("DELETE", "/me/subscriptions/{thing_id}", "Cancel a subscription", TAG, scope="flattr", response=SubscriptionOut)
async def cancel_subscription(call: Call) -> SubscriptionOut:
    return SubscriptionOut.of(await call.run(cancel, call.deployment, call.me, call.path["thing_id"]))


@router.route("GET", "/me/subscriptions", "My subscriptions", TAG, scope="read", response=SubscriptionList)
async def my_subscriptions(call: Call) -> SubscriptionList:
    return SubscriptionList(items=[SubscriptionOut.of(s) for s in await call.run(subscriptions_of, call.deployment, call.me)])
