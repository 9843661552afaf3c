// upload() keeps the session as every other call does, through the strict wx.uploadFile (wx.cjs), which hands
// back the body as a string and no headers: an access token the server refuses (expired while the app was in
// the background) is refreshed once and the upload repeated; against a scripted server, a 429 whose problem
// says retryAfter is waited out and sent again, and wechat_session_stale logs in again and repeats the upload.
// Every upload carries an Idempotency-Key of its own that its repeats reuse; against the API, a repeat with the
// same key (the app's own retry after a lost answer) answers the same upload.
// Usage: node upload_session.cjs <compiled client/index.js> <api url> <sandbox url> <a JPEG>; prints JSON.
const [clientPath, api, sandbox, photoPath] = process.argv.slice(2);
const { createClient, memoryTokens } = require(clientPath);

const { wx, log } = require("./wx.cjs").createWx({ sandbox, user: "carol" });
globalThis.wx = wx;
const sent = (path) => log.filter((e) => e.url && new URL(e.url).pathname === path).map((e) => e.api);

const { scripted, line } = require("./scripted.cjs");

(async () => {
  const seen = {};
  const ended = [];
  const tokens = memoryTokens();
  const client = createClient({ baseUrl: api, tokens, onSessionEnded: (problem) => ended.push(problem.code) });
  await client.login(); // through the strict wx.login (sandbox)

  // The access token expired while the app was in the background: one refresh, then the upload again.
  tokens.set({ ...tokens.get(), accessToken: "not-a-token" });
  const photo = await client.upload(photoPath, "post");
  seen.refused = {
    ok: photo.ok, status: photo.status, purpose: photo.data.purpose,
    refreshes: sent("/v1/auth/refresh").length, uploads: sent("/v1/media"), ended: [...ended],
  };

  // A spent session that no silent login renews: the 401 is answered, the tokens dropped, the app told.
  const lost = memoryTokens({ accessToken: "not-a-token", refreshToken: "not-a-refresh-token" });
  const doomed = createClient({
    baseUrl: api, tokens: lost, loginCode: async () => "not-a-code", onSessionEnded: (p) => ended.push(p.code),
  });
  const over = await doomed.upload(photoPath);
  seen.over = { ok: over.ok, status: over.status, code: over.data.code, ended: [...ended], tokens: lost.get() };

  // The app repeats an upload whose answer it lost, with the key it gave: the API answers the first upload.
  const once = await client.upload(photoPath, "post", { idempotencyKey: "photo-once" });
  const twice = await client.upload(photoPath, "post", { idempotencyKey: "photo-once" });
  const other = await client.upload(photoPath, "post"); // a key made for this upload: a new one
  seen.again = { ok: [once.ok, twice.ok, other.ok], same: once.data.id === twice.data.id, fresh: other.data.id !== once.data.id };

  // wx.uploadFile gives no headers: the problem's retryAfter is waited for; wechat_session_stale logs in again.
  const script = await scripted([
    [429, { code: "rate_limited", retryAfter: 1 }, { "retry-after": "1" }],
    [201, { id: "7", purpose: "post" }],
    [400, { code: "wechat_session_stale" }],
    [200, { accessToken: "fresh", refreshToken: "r2", expiresIn: 7200 }],
    [201, { id: "8", purpose: "avatar" }],
    [413, "<html>413 Request Entity Too Large</html>", { "content-type": "text/html" }],
  ]);
  const scriptedClient = createClient({ baseUrl: script.url, tokens: memoryTokens({ accessToken: "a", refreshToken: "r" }) });
  const started = Date.now();
  const waited = await scriptedClient.upload(photoPath);
  const keys = (...at) => at.map((i) => script.seen[i].key);
  seen.retry = {
    ok: waited.ok, id: waited.data.id, waitedMs: Date.now() - started, calls: script.seen.slice(0, 2).map(line),
    keys: keys(0, 1),
  };
  const stale = await scriptedClient.upload(photoPath, "avatar");
  seen.stale = { ok: stale.ok, id: stale.data.id, calls: script.seen.slice(2, 5).map(line), keys: keys(2, 4) };
  // A proxy refusing a large photo with its own page: a problem with a code and a text to show all the same.
  const big = await scriptedClient.upload(photoPath);
  seen.proxy = { ok: big.ok, status: big.status, code: big.data.code, message: big.data.userMessage };
  script.close();

  console.log(JSON.stringify(seen));
})().catch((err) => {
  console.error(err);
  process.exit(1);
});
