// Drives openapi/client (compiled by tsc) against a live API through the strict wx (wx.cjs).
// Usage: node scenario.cjs <compiled client/index.js> <api url> <sandbox url> <a JPEG> <a text file>; prints what
// it saw as JSON.
const [clientPath, api, sandbox, photoPath, textPath] = process.argv.slice(2);
const { createClient, memoryTokens } = require(clientPath);

const { wx, log } = require("./wx.cjs").createWx({ sandbox, user: "carol" });
globalThis.wx = wx; // the strict one: what WeChat refuses, it refuses
const sent = { filter: (keep) => log.filter((e) => e.url).map((e) => new URL(e.url).pathname).filter(keep) };

async function wxLogin(user) {
  const res = await fetch(`${sandbox}/sandbox/wx-login`, {
    method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ user }),
  });
  return (await res.json()).code;
}

const { scripted, line } = require("./scripted.cjs");

const refreshes = () => sent.filter((path) => path === "/v1/auth/refresh").length;

(async () => {
  const seen = {};
  const ended = [];
  const tokens = memoryTokens();
  const client = createClient({ baseUrl: api, tokens, onSessionEnded: (problem) => ended.push(problem.code) });

  seen.login = (await client.login(await wxLogin("carol"))).ok;
  seen.me = (await client.get("/v1/me")).ok;

  // A photo from wx.chooseMedia through wx.uploadFile: the body comes back as a string, the client parses it.
  const photo = await client.upload(photoPath, "checkin");
  const text = await client.upload(textPath);
  seen.upload = {
    ok: photo.ok, status: photo.status, id: typeof photo.data.id, purpose: photo.data.purpose,
    refused: { status: text.status, code: text.data.code, message: text.data.userMessage },
  };

  // An access token the server refuses: one refresh, then the call is repeated.
  const spent = tokens.get().refreshToken;
  tokens.set({ ...tokens.get(), accessToken: "not-a-token" });
  const renewed = await client.put("/v1/me", { body: { nickname: "Carol" } });
  seen.renewed = { ok: renewed.ok, nickname: renewed.ok ? renewed.data.nickname : null, refreshes: refreshes() };

  // Three calls at once with a refused token share a single refresh (a refresh token works once).
  tokens.set({ ...tokens.get(), accessToken: "not-a-token" });
  const together = await Promise.all([client.get("/v1/me"), client.get("/v1/me"), client.get("/v1/me/communities")]);
  seen.together = { ok: together.map((r) => r.ok), refreshes: refreshes() };

  // Problems come back as values with their code.
  const missing = await client.get("/v1/communities/{community_id}", { path: { community_id: "999999" } });
  seen.missing = { ok: missing.ok, status: missing.status, code: missing.ok ? null : missing.problem.code };

  // A spent refresh token: a silent wx.login (no tap needed) renews the session and the call is repeated.
  tokens.set({ accessToken: "not-a-token", refreshToken: spent });
  const logins = () => sent.filter((path) => path === "/v1/auth/login").length;
  const before = logins();
  const relogged = await client.get("/v1/me");
  seen.relogged = { ok: relogged.ok, logins: logins() - before, ended: [...ended] };

  // When the silent login fails too, the session is over: the 401 is answered, the store emptied, the app told.
  const doomed = memoryTokens({ accessToken: "not-a-token", refreshToken: spent });
  const lost = createClient({
    baseUrl: api, tokens: doomed, loginCode: async () => "not-a-code",
    onSessionEnded: (problem) => ended.push(problem.code),
  });
  const over = await lost.get("/v1/me");
  seen.over = { ok: over.ok, status: over.status, code: over.ok ? null : over.problem.code, ended, tokens: doomed.get() };

  // A paid join: order.payment goes to wx.requestPayment as is, then the order is followed until it is paid.
  const owner = createClient({ baseUrl: api, tokens: memoryTokens(), loginCode: () => wxLogin("olivia") });
  await owner.login();
  const paid = (await owner.post("/v1/communities", { body: { name: "付费跑团" } })).data;
  await owner.put("/v1/communities/{community_id}", {
    path: { community_id: paid.id }, body: { entryMode: "paid", priceFen: 990 },
  });
  const joined = await client.post("/v1/communities/{community_id}/join", { path: { community_id: paid.id } });
  const order = await client.pay(joined.data.order);
  const member = await client.get("/v1/communities/{community_id}", { path: { community_id: paid.id } });
  seen.pay = {
    outcome: joined.data.outcome,
    status: order.ok ? order.data.status : order.problem.code,
    sheets: log.filter((entry) => entry.api === "requestPayment").length,
    member: member.ok ? member.data.membership?.status : member.problem.code,
  };

  // Against a scripted server: Retry-After is waited for and the POST sent again with the same key;
  // wechat_session_stale (here on /v1/auth/phone) logs in again and repeats the call with the new token.
  const script = await scripted([
    [429, { code: "rate_limited" }, { "retry-after": "1" }],
    [201, { id: "7" }],
    [400, { code: "wechat_session_stale" }],
    [200, { accessToken: "fresh", refreshToken: "r2", expiresIn: 7200 }],
    [200, { phoneNumber: "13800000000" }],
    [502, "<html>502 Bad Gateway</html>", { "content-type": "text/html" }],
  ]);
  const scripted_ = createClient({ baseUrl: script.url, tokens: memoryTokens({ accessToken: "a", refreshToken: "r" }) });
  const started = Date.now();
  const retried = await scripted_.post("/v1/communities", { body: { name: "x" } });
  seen.retry = {
    ok: retried.ok,
    waitedMs: Date.now() - started,
    keys: script.seen.map((r) => r.key),
  };
  const phone = await scripted_.post("/v1/auth/phone", { body: { code: "c" } });
  seen.stale = { ok: phone.ok, calls: script.seen.slice(2).map(line) };
  // A proxy's own page (not problem+json) still answers a problem with a code and a text to show.
  const gateway = await scripted_.get("/v1/me");
  seen.gateway = gateway.ok ? null : { status: gateway.status, code: gateway.problem.code, message: gateway.problem.userMessage };
  script.close();

  // A page loading more than wx's 10 requests in flight at once: the client queues, none fails.
  const crowd = await Promise.all(Array.from({ length: 14 }, () => client.get("/healthz")));
  seen.crowd = crowd.map((r) => (r.ok ? r.status : r.problem.detail));

  const offline = createClient({ baseUrl: "http://127.0.0.1:9", tokens: memoryTokens() });
  const unreachable = await offline.get("/healthz");
  seen.offline = {
    ok: unreachable.ok, status: unreachable.status,
    code: unreachable.ok ? null : unreachable.problem.code, message: unreachable.ok ? null : unreachable.problem.userMessage,
  };

  console.log(JSON.stringify(seen));
})().catch((err) => {
  console.error(err);
  process.exit(1);
});
