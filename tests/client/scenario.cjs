// Drives openapi/client (compiled by tsc) against a live API through the strict wx (wx.cjs).
// Usage: node scenario.cjs <compiled client/index.js> <api url> <sandbox url>; prints what it saw as JSON.
const [clientPath, api, sandbox] = process.argv.slice(2);
const { createClient, memoryTokens } = require(clientPath);

const { wx, log } = require("./wx.cjs").createWx({ sandbox });
globalThis.wx = wx; // the strict one: what WeChat refuses, it refuses
const sent = { filter: (keep) => log.map((entry) => new URL(entry.url).pathname).filter(keep) };

async function wxLogin(user) {
  const res = await fetch(`${sandbox}/sandbox/wx-login`, {
    method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ user }),
  });
  return (await res.json()).code;
}

const refreshes = () => sent.filter((path) => path === "/v1/auth/refresh").length;

(async () => {
  const seen = {};
  const ended = [];
  const tokens = memoryTokens();
  const client = createClient({ baseUrl: api, tokens, onSessionEnded: (problem) => ended.push(problem.code) });

  seen.login = (await client.login(await wxLogin("carol"))).ok;
  seen.me = (await client.get("/v1/me")).ok;

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

  // A spent refresh token: the session is over; the call answers its 401 and the store is emptied.
  tokens.set({ accessToken: "not-a-token", refreshToken: spent });
  const over = await client.get("/v1/me");
  seen.over = { ok: over.ok, status: over.status, code: over.ok ? null : over.problem.code, ended, tokens: tokens.get() };

  const offline = createClient({ baseUrl: "http://127.0.0.1:9", tokens: memoryTokens() });
  const unreachable = await offline.get("/healthz");
  seen.offline = { ok: unreachable.ok, status: unreachable.status, code: unreachable.ok ? null : unreachable.problem.code };

  console.log(JSON.stringify(seen));
})().catch((err) => {
  console.error(err);
  process.exit(1);
});
