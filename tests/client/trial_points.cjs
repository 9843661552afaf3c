// Trial places for check-in points as a mini program uses them, through the strict wx.request (wx.cjs): a brand's
// owner offers places on a naming poll (PUT, DELETE /v1/polls/{id}/trial-points), members redeem them
// (POST /v1/polls/{id}/trial-redemptions) and read their points (GET /v1/me/points?brandId= from wx's `data`).
// Ids travel as the strings the API gave. Usage: node trial_points.cjs <api url> <sandbox url> <window JSON>
// (the activity's check-in window, open now); prints what it saw as JSON.
const { createWx } = require("./wx.cjs");

const [api, sandbox, windowJson] = process.argv.slice(2);
const log = [];

// A signed-in member: wx.login through the sandbox, then every call through their own strict wx.request.
async function member(user) {
  const { wx, log: sent } = createWx({ sandbox, user });
  log.push(sent);
  const call = (method, path, data, header = {}) =>
    new Promise((resolve) => wx.request({ url: api + path, method, data, header: { ...header, ...auth }, success: resolve, fail: resolve }));
  const auth = {};
  const { code } = await new Promise((resolve, reject) => wx.login({ success: resolve, fail: reject }));
  const login = await call("POST", "/v1/auth/login", { code });
  auth.authorization = `Bearer ${login.data.accessToken}`;
  return { call, id: login.data.user.id };
}

// What a refusal shows: its status, code and the message for the member.
const refusal = (answer) => ({ status: answer.statusCode, code: answer.data.code, userMessage: answer.data.userMessage });
const at = (hours) => new Date(Date.now() + hours * 3600 * 1000).toISOString();

(async () => {
  const seen = {};
  const owner = await member("olivia");
  const carol = await member("carol");
  const pat = await member("pat");

  const community = (await owner.call("POST", "/v1/communities", { name: "冷萃品牌群" })).data;
  const brand = (await owner.call("POST", "/v1/brands", { name: "冷萃咖啡", defaults: { pointsSpendable: true } })).data;
  const attached = await owner.call("POST", `/v1/brands/${brand.id}/communities`, { communityId: community.id });
  for (const who of [carol, pat]) await who.call("POST", `/v1/communities/${community.id}/join`);
  const activity = (
    await owner.call("POST", `/v1/communities/${community.id}/activities`, {
      title: "早起打卡", prompt: "晒晒今天的早餐", recurrence: "daily", rewardPoints: 30, ...JSON.parse(windowJson),
    })
  ).data;
  const checkIn = await carol.call("POST", `/v1/activities/${activity.id}/check-ins`, { text: "六点起床，喝了一杯冷萃" });
  const poll = (
    await owner.call("POST", `/v1/communities/${community.id}/polls`, {
      title: "新款冷萃咖啡", proposalsCloseAt: at(1), votingCloseAt: at(2),
    })
  ).data;
  seen.setup = { attached: attached.statusCode, checkIn: checkIn.statusCode, points: checkIn.data.points };

  // The owner offers two places at 30 points; members learn nothing of it from a PUT of their own.
  const offered = await owner.call("PUT", `/v1/polls/${poll.id}/trial-points`, { price: 30, places: 2 });
  seen.offer = { status: offered.statusCode, body: offered.data };
  seen.memberOffers = refusal(await carol.call("PUT", `/v1/polls/${poll.id}/trial-points`, { price: 1, places: 1 }));

  // Before the close: refused, with a message for the member.
  seen.early = refusal(await carol.call("POST", `/v1/polls/${poll.id}/trial-redemptions`));
  const closed = await owner.call("POST", `/v1/polls/${poll.id}/close`);
  seen.closed = closed.statusCode;

  // My points: the brand id from an earlier answer, as a query string made from wx's `data`.
  const before = await carol.call("GET", "/v1/me/points", { brandId: brand.id });
  seen.before = { status: before.statusCode, body: before.data };
  const redeemed = await carol.call("POST", `/v1/polls/${poll.id}/trial-redemptions`, undefined, { "Idempotency-Key": "carol-1" });
  const replayed = await carol.call("POST", `/v1/polls/${poll.id}/trial-redemptions`, undefined, { "Idempotency-Key": "carol-1" });
  const trial = redeemed.data;
  seen.redeemed = {
    status: redeemed.statusCode,
    reason: trial.reason,
    position: trial.position,
    types: [trial.id, trial.pollId, trial.userId].map((value) => typeof value),
    ownPoll: trial.pollId === poll.id && trial.userId === carol.id,
    replayed: { status: replayed.statusCode, same: replayed.data.id === trial.id, header: replayed.header["idempotent-replayed"] },
  };
  seen.again = refusal(await carol.call("POST", `/v1/polls/${poll.id}/trial-redemptions`));
  seen.poor = refusal(await pat.call("POST", `/v1/polls/${poll.id}/trial-redemptions`));
  seen.after = (await carol.call("GET", "/v1/me/points", { brandId: brand.id })).data;
  seen.placesLeft = (await carol.call("GET", `/v1/polls/${poll.id}`)).data.trialPoints.placesLeft;
  seen.badBrand = refusal(await carol.call("GET", "/v1/me/points", { brandId: "abc" }));
  seen.noBrand = refusal(await carol.call("GET", "/v1/me/points", { brandId: "999999" }));

  // The owner stops selling: 204, no body; redeemed places stay.
  const withdrawn = await owner.call("DELETE", `/v1/polls/${poll.id}/trial-points`);
  seen.withdrawn = { status: withdrawn.statusCode, body: withdrawn.data };
  seen.withdrawnOffer = (await carol.call("GET", `/v1/polls/${poll.id}`)).data.trialPoints;
  seen.noOffer = refusal(await pat.call("POST", `/v1/polls/${poll.id}/trial-redemptions`));
  seen.mine = (await carol.call("GET", "/v1/me/trials")).data.items.map((t) => [t.id, t.reason]);
  seen.trialId = trial.id;

  seen.methods = [...new Set(log.flat().filter((entry) => entry.api === "request").map((entry) => entry.method))].sort();
  console.log(JSON.stringify(seen));
})().catch((error) => {
  console.error(error);
  process.exit(1);
});
