// docs/devtools.md, step by step, in WeChat DevTools' shoes: the strict wx in DevTools mode (its wx.login and
// wx.requestPayment cannot serve a sandbox) and the client in dev mode against a `make run`-like stack.
// Usage: node devtools.cjs <compiled client/index.js> <api url> <sandbox url>; prints what it saw as JSON.
const [clientPath, api, sandboxUrl] = process.argv.slice(2);
const { wx, log } = require("./wx.cjs").createWx({ sandbox: sandboxUrl, devtools: true });
globalThis.wx = wx;
const { createClient } = require(clientPath);

(async () => {
  const seen = {};
  // Step 3: the client in dev mode; the session lives in wx storage as on a device.
  const owner = createClient({ baseUrl: api, dev: { sandboxUrl, user: "olivia" }, tokens: undefined });
  // Step 4: log in and make a call.
  seen.login = (await owner.login()).ok;
  const me = await owner.get("/v1/me");
  seen.me = me.ok && typeof me.data.id === "string";
  seen.stored = Boolean(wx.getStorageSync("community-session").accessToken);

  // Step 5: a paid join. The owner opens a paid community; a member joins and pays through the sandbox.
  const community = (await owner.post("/v1/communities", { body: { name: "周末徒步" } })).data;
  const priced = await owner.put("/v1/communities/{community_id}", {
    path: { community_id: community.id }, body: { entryMode: "paid", priceFen: 1990 },
  });
  seen.priced = priced.ok;
  wx.removeStorageSync("community-session");
  const member = createClient({ baseUrl: api, dev: { sandboxUrl, user: "bob" } });
  await member.login();
  const joined = await member.post("/v1/communities/{community_id}/join", { path: { community_id: community.id } });
  const order = await member.pay(joined.data.order);
  const after = await member.get("/v1/communities/{community_id}", { path: { community_id: community.id } });
  seen.join = {
    outcome: joined.data.outcome,
    order: order.ok ? order.data.status : order.problem.code,
    membership: after.ok ? after.data.membership?.status : after.problem.code,
  };
  // Nothing went to DevTools' own wx.login or wx.requestPayment.
  seen.wxApis = log.filter((entry) => entry.api !== "request").map((entry) => entry.api);
  console.log(JSON.stringify(seen));
})().catch((err) => {
  console.error(err);
  process.exit(1);
});
