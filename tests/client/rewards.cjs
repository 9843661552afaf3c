// Asking for an owed reward again as a mini program does, through the strict wx.request (wx.cjs): a member reads
// GET /v1/me/rewards, asks for the transferable one with POST /v1/me/rewards/{id}/transfer (the id as the list gave
// it), asks again (the open transfer answers), then follows it with GET /v1/transfers/{id}; refusals come with their
// code and a message for the member. Usage: node rewards.cjs <api url> <sandbox url>; the rewards are seeded by the
// test (tests/test_wx_contract.py). Prints what it saw as JSON.
const { createWx } = require("./wx.cjs");

const [api, sandbox] = process.argv.slice(2);

// A signed-in member: wx.login through the sandbox, then every call through their own strict wx.request.
async function member(user) {
  const { wx } = createWx({ sandbox, user });
  const auth = {};
  const call = (method, path, data, header = {}) =>
    new Promise((resolve) => wx.request({ url: api + path, method, data, header: { ...header, ...auth }, success: resolve, fail: resolve }));
  const { code } = await new Promise((resolve, reject) => wx.login({ success: resolve, fail: reject }));
  const login = await call("POST", "/v1/auth/login", { code });
  auth.authorization = `Bearer ${login.data.accessToken}`;
  return { call };
}

const refusal = (answer) => ({ status: answer.statusCode, code: answer.data.code, userMessage: answer.data.userMessage });
const listed = (items) => items.map((r) => ({ id: r.id, amountFen: r.amountFen, status: r.status, transferId: r.transferId, owedReason: r.owedReason }));

(async () => {
  const seen = {};
  const ann = await member("ann");
  const bob = await member("bob");

  const mine = (await ann.call("GET", "/v1/me/rewards", { limit: 10 })).data.items;
  seen.before = listed(mine);
  const owed = mine.find((r) => r.owedReason === "transferable");
  const paid = mine.find((r) => r.status === "paid");
  const url = (reward) => `/v1/me/rewards/${reward.id}/transfer`;

  const asked = await ann.call("POST", url(owed), undefined, { "Idempotency-Key": "ann-reward-1" });
  const replayed = await ann.call("POST", url(owed), undefined, { "Idempotency-Key": "ann-reward-1" });
  const again = await ann.call("POST", url(owed));
  seen.asked = {
    status: asked.statusCode,
    types: [asked.data.id, asked.data.amountFen].map((value) => typeof value),
    amountFen: asked.data.amountFen,
    transferStatus: asked.data.status,
    replayed: { status: replayed.statusCode, same: replayed.data.id === asked.data.id, header: replayed.header["idempotent-replayed"] },
    again: { status: again.statusCode, same: again.data.id === asked.data.id },
  };
  const followed = await ann.call("GET", `/v1/transfers/${asked.data.id}`);
  seen.followed = { status: followed.statusCode, same: followed.data.id === asked.data.id, amountFen: followed.data.amountFen };
  seen.after = listed((await ann.call("GET", "/v1/me/rewards")).data.items).find((r) => r.id === owed.id);
  seen.transferId = asked.data.id;

  seen.alreadyPaid = refusal(await ann.call("POST", url(paid)));
  seen.notMine = refusal(await bob.call("POST", url(owed)));
  const small = (await bob.call("GET", "/v1/me/rewards")).data.items[0];
  seen.belowMinimum = refusal(await bob.call("POST", url(small)));
  seen.unknown = refusal(await ann.call("POST", "/v1/me/rewards/999999999/transfer"));
  seen.badId = refusal(await ann.call("POST", "/v1/me/rewards/abc/transfer"));
  console.log(JSON.stringify(seen));
})().catch((error) => {
  console.error(error);
  process.exit(1);
});
